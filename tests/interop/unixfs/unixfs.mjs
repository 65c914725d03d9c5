// Reads one JSON job on stdin, answers one JSON report on stdout, with the JavaScript reference
// implementations of IPFS files (ipfs-unixfs-importer, -exporter, @ipld/dag-pb, @ipld/car).
//   import: [{files: [{path, file}], car, chunk?, links?}]
//                                       import files from disk as `ipfs add -r` would (CIDv1,
//                                       raw leaves; chunk size and links per node may be set
//                                       small to test deep trees); the root CID and a CAR of it
//   export: [{car, path}]               read a CAR peerkit wrote: the roots, every block checked,
//                                       and the file or directory at its root
//   decode: [{hex}]                     dag-pb bytes: decode, re-encode, same bytes?
import { readFile, writeFile } from 'node:fs/promises'
import { CarReader, CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { sha256 } from 'multiformats/hashes/sha2'

const job = JSON.parse(await new Promise((resolve) => {
  let data = ''
  process.stdin.on('data', (chunk) => { data += chunk })
  process.stdin.on('end', () => resolve(data))
}))

class Store {
  constructor () { this.blocks = new Map() }
  async put (cid, bytes) { this.blocks.set(cid.toString(), { cid, bytes }); return cid }
  bytesOf (cid) {
    const found = this.blocks.get(cid.toString())
    if (found === undefined) throw new Error(`missing block ${cid}`)
    return found.bytes
  }

  // the exporter reads a block as a stream of byte arrays (interface-blockstore 7)
  async * get (cid) { yield this.bytesOf(cid) }
  async has (cid) { return this.blocks.has(cid.toString()) }
}

async function * walk (store, cid, seen = new Set()) {
  if (seen.has(cid.toString())) return
  seen.add(cid.toString())
  const bytes = store.bytesOf(cid)
  yield { cid, bytes }
  if (cid.code === dagPb.code) {
    for (const link of dagPb.decode(bytes).Links) yield * walk(store, link.Hash, seen)
  }
}

const report = { imported: [], exported: [], decoded: [] }
for (const { files, car, chunk, links } of job.import ?? []) {
  const store = new Store()
  const source = []
  for (const { path, file } of files) {
    source.push(file === null ? { path } : { path, content: await readFile(file) })
  }
  let root
  for await (const entry of importer(source, store, {
    cidVersion: 1,
    rawLeaves: true,
    ...(chunk ? { chunker: fixedSize({ chunkSize: chunk }) } : {}),
    ...(links ? { layout: balanced({ maxChildrenPerNode: links }) } : {})
  })) root = entry
  const { writer, out } = CarWriter.create([root.cid])
  const parts = []
  const collect = (async () => { for await (const part of out) parts.push(part) })()
  for await (const { cid, bytes } of walk(store, root.cid)) await writer.put({ cid, bytes })
  await writer.close()
  await collect
  await writeFile(car, Buffer.concat(parts))
  report.imported.push({ cid: root.cid.toString(), blocks: store.blocks.size })
}
for (const { car, out } of job.export ?? []) {
  try {
    const reader = await CarReader.fromBytes(await readFile(car))
    const store = new Store()
    let bad = 0
    for await (const { cid, bytes } of reader.blocks()) {
      const digest = await sha256.digest(bytes)
      if (Buffer.compare(Buffer.from(digest.bytes), Buffer.from(cid.multihash.bytes)) !== 0) bad++
      if (cid.code === dagPb.code) {
        const again = dagPb.encode(dagPb.decode(bytes))
        if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0) bad++
      }
      await store.put(cid, bytes)
    }
    const roots = (await reader.getRoots()).map(String)
    const entry = await exporter(roots[0], store)
    const listing = []
    if (entry.type === 'directory') {
      for await (const child of entry.entries()) listing.push({ name: child.name, cid: child.cid.toString() })
    } else {
      const parts = []
      for await (const part of entry.content()) parts.push(part)
      await writeFile(out, Buffer.concat(parts))
    }
    report.exported.push({ roots, bad, type: entry.type, listing })
  } catch (err) {
    report.exported.push({ error: String(err) })
  }
}
for (const { hex } of job.decode ?? []) {
  try {
    const bytes = Buffer.from(hex, 'hex')
    const again = Buffer.from(dagPb.encode(dagPb.decode(bytes))).toString('hex')
    report.decoded.push({ same: again === hex })
  } catch (err) {
    report.decoded.push({ error: String(err) })
  }
}
process.stdout.write(JSON.stringify(report))
