// Reads one JSON job on stdin, answers one JSON report on stdout. Every check is done with the
// JavaScript reference implementations (@ipld/dag-cbor, multiformats, yjs).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as Y from 'yjs'

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'))
const cidOf = async (bytes) => CID.create(1, dagCbor.code, await sha256.digest(bytes)).toString()

const job = JSON.parse(await new Promise((resolve) => {
  let data = ''
  process.stdin.on('data', (chunk) => { data += chunk })
  process.stdin.on('end', () => resolve(data))
}))
const report = { encoded: [], blocks: [], yjs_read: [], yjs_written: [] }

// JSON values encoded from scratch by JS: bytes and CID must equal peerkit's
for (const { value } of job.encode) {
  const bytes = dagCbor.encode(value)
  report.encoded.push({ hex: hex(bytes), cid: await cidOf(bytes) })
}
// peerkit's blocks (with bytes and links): JS must decode them and re-encode the same bytes
for (const { hex: blockHex } of job.blocks) {
  const bytes = unhex(blockHex)
  try {
    const again = dagCbor.encode(dagCbor.decode(bytes))
    report.blocks.push({ same: hex(again) === blockHex, cid: await cidOf(bytes) })
  } catch (err) {
    report.blocks.push({ error: String(err) })
  }
}
// peerkit's (decrypted) DCS updates: a Yjs document must read the same text
for (const { update } of job.yjs_read) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, unhex(update))
  report.yjs_read.push({ text: doc.getText('text').toString() })
}
// and the other way: Yjs writes, peerkit reads
for (const { ops } of job.yjs_write) {
  const doc = new Y.Doc()
  const text = doc.getText('text')
  for (const [op, index, arg] of ops) {
    if (op === 'insert') text.insert(index, arg)
    else text.delete(index, arg)
  }
  report.yjs_written.push({ update: hex(Y.encodeStateAsUpdate(doc)), text: text.toString() })
}
process.stdout.write(JSON.stringify(report))
