/**
 * The object a URL names, as S3 reads it: path-style
 * (`https://endpoint/bucket/key`, what MinIO, s3rver and most S3-compatible
 * stores use) or virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`,
 * AWS's default). Requests go to the URL as given; only its path is
 * re-encoded, so what is sent is exactly what is signed.
 */
export interface S3Target {
  /** The URL every request goes to, its path encoded as SigV4 canonicalises it, no query. */
  url: URL;
  /** The region in an AWS host name (`s3.eu-west-1.amazonaws.com`), when there is one. */
  hostRegion?: string;
}

/** An AWS host: `[bucket.]s3[.-]region.amazonaws.com` (or `s3.amazonaws.com`, which is us-east-1). */
const AWS_HOST = /(?:^|\.)s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$/;
/** Virtual-hosted: the bucket is the host's first label in front of an AWS S3 host. */
const VIRTUAL_HOSTED = /^[^.]+\.s3[.-]/;

/** The object `url` names; a TypeError when it names no object (no bucket, or no key). */
export function s3Target(url: URL): S3Target {
  const segments = url.pathname.split('/').slice(1).map(decodeSegment);
  const virtualHosted = url.hostname.endsWith('.amazonaws.com') && VIRTUAL_HOSTED.test(url.hostname);
  // Path-style: the first segment is the bucket; the key is the rest, never empty.
  const keySegments = virtualHosted ? segments : segments.slice(1);
  if ((!virtualHosted && !segments[0]) || keySegments.join('/') === '') {
    throw new TypeError(
      `url must name an object: https://endpoint/bucket/key (path-style) or https://bucket.s3.region.amazonaws.com/key, received ${JSON.stringify(url.origin + url.pathname)}`,
    );
  }
  const target = new URL(url.origin);
  target.pathname = `/${segments.map(encodeSegment).join('/')}`;
  const match = AWS_HOST.exec(url.hostname);
  return match ? { url: target, hostRegion: match[1]! } : { url: target };
}

/**
 * RFC 3986 encoding of everything but the unreserved characters, as SigV4
 * canonicalises a path segment and a query value (`encodeURIComponent`
 * leaves `!'()*`).
 */
export function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
