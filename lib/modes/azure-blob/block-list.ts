/*
 * The two XML documents of a block blob: the list Put Block List commits, and
 * the uncommitted blocks Get Block List answers with. Both are flat and their
 * values are base64 ids and numbers, so they are written and read here
 * without an XML library.
 */

/** A block the service holds: its id (base64) and size in bytes. */
export interface ListedBlock {
  id: string;
  size: number;
}

/** Put Block List's body: the blocks, in order, from the latest version the service holds of each. */
export function blockListXml(ids: readonly string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
}

/** The uncommitted blocks in a Get Block List answer (`blocklisttype=uncommitted`); blocks not understood are left out. */
export function uncommittedBlocks(xml: string): ListedBlock[] {
  const section = /<UncommittedBlocks>([\s\S]*?)<\/UncommittedBlocks>/.exec(xml)?.[1] ?? '';
  const blocks: ListedBlock[] = [];
  for (const [, block] of section.matchAll(/<Block>([\s\S]*?)<\/Block>/g)) {
    const id = /<Name>([A-Za-z0-9+/=]+)<\/Name>/.exec(block!)?.[1];
    const size = /<Size>(\d+)<\/Size>/.exec(block!)?.[1];
    if (id !== undefined && size !== undefined) blocks.push({ id, size: Number(size) });
  }
  return blocks;
}
