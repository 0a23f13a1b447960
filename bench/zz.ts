import { run } from './calls.ts';
console.log(JSON.stringify(await run(), null, 1));
