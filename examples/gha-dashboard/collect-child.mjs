// Child for dashboard.test.ts: one collection, then its report as one JSON line.
// args: <apiUrl> <dir> <owner> <repo> <perPage>
import { collectRepository } from './collector.mjs';

const [apiUrl, dir, owner, repo, perPage] = process.argv.slice(2);
const report = await collectRepository({ apiUrl, dir, owner, repo, perPage: Number(perPage) });
console.log(JSON.stringify(report));
