/**
 * Redis Cluster hash slots (CRC16/XMODEM of the key, or of its `{hash tag}`,
 * modulo 16384), as `CLUSTER KEYSLOT` computes them: multi-key commands go
 * per slot so none spans two.
 */
const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  TABLE[i] = crc
}

/** The hash slot of a key. */
export function keySlot (key: string): number {
  let bytes = Buffer.from(key)
  const open = bytes.indexOf(0x7b) // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]
  return crc & 0x3fff
}

/** Indexes of `keys` grouped by hash slot. */
export function groupBySlot (keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>()
  for (const [i, key] of keys.entries()) {
    const slot = keySlot(key)
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [i])
    else group.push(i)
  }
  return [...groups.values()]
}
