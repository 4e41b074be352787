/**
 * The little XML S3's multipart calls exchange: a handful of fixed,
 * namespace-free elements of text (`<UploadId>`, `<Part><ETag>`, `<Error><Code>`).
 * No XML parser is a dependency of the library (the AWS SDK's
 * fast-xml-parser is a dev dependency only), and these few documents do not
 * warrant one: this reader finds elements by name in a document it first
 * checks is the expected root, and decodes the five predefined entities and
 * character references. Anything it does not understand is refused, never guessed.
 */

/** The root element's name, after an optional XML declaration; undefined when the text is no XML element. */
export function rootElement(xml: string): string | undefined {
  return /^\s*(?:<\?xml[^>]*\?>\s*)?<([A-Za-z][\w.-]*)[\s/>]/.exec(xml)?.[1];
}

/** The inner text of every `<name>…</name>` in `xml`, in order (nested elements included as text). */
export function elements(xml: string, name: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  for (let match = pattern.exec(xml); match; match = pattern.exec(xml)) found.push(match[1]!);
  return found;
}

/** The decoded text of the first `<name>` element; undefined when there is none. */
export function elementText(xml: string, name: string): string | undefined {
  const [inner] = elements(xml, name);
  return inner === undefined ? undefined : decodeText(inner);
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text content with its entity and character references decoded; an unknown reference is refused. */
export function decodeText(text: string): string {
  return text.replace(/&(#x[0-9A-Fa-f]+|#\d+|\w+);/g, (reference, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    const entity = ENTITIES[name];
    if (entity === undefined) throw new TypeError(`unknown XML entity ${reference}`);
    return entity;
  });
}

/** `text` safe as element content. */
export function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${Object.keys(ENTITIES).find((name) => ENTITIES[name] === c)!};`);
}
