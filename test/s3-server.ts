import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./fixtures/s3-server.mjs', import.meta.url));

/** s3rver's fixed credentials: any signed request with them is accepted. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Server {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts s3rver in a child process on a free loopback port with `buckets` created. A real
 * server in another process: CLI tests block this one (spawnSync) while it answers.
 */
export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-s3-'));
  const child = spawn(process.execPath, [SERVER, dir, ...buckets], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code} before listening: ${err}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
