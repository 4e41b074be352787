/**
 * The second entry point, `buffered-http-writable/redact`: the rules the
 * library redacts by, for a program that shows what it sends and must hide the
 * same secrets the library hides (bhw is one). They live in `http/redact.ts`
 * with the helpers only the transports use; this entry names the public ones,
 * and keeps them out of the main entry, which is the upload API.
 */
export {
  CREDENTIAL_HEADERS,
  REDACTED,
  SECRET_QUERY_PARAMETERS,
  hasUrlCredentials,
  isCredentialHeader,
  isSecretQueryParameter,
  redactSecrets,
  redactUrl,
  secretValues,
} from './http/redact.js';
