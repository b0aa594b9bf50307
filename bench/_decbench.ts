import { decodeInput as oldD } from '../src/contract/decode-old.ts';
import { decodeInput as newD } from '../src/contract/decode.ts';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
const bufs = gunzipSync(readFileSync('fixtures/train/train.jsonl.gz')).toString().split('\n').filter(Boolean).slice(0, 20000).map((l) => Buffer.from(l));
for (const [name, f] of [['old', oldD], ['new', newD], ['old', oldD], ['new', newD]] as const) {
  const t = performance.now(); let ok = 0;
  for (const b of bufs) if (f(b).ok) ok++;
  const p0 = performance.now(); for (const b of bufs) JSON.parse(b.toString()); const p1 = performance.now();
  console.log(name, ((p0 - t) / bufs.length * 1000).toFixed(2), 'us/event; JSON.parse alone', ((p1 - p0) / bufs.length * 1000).toFixed(2), ok);
}
