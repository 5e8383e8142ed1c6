import { Readable } from 'node:stream';
import type * as Sdk from '@aws-sdk/client-s3';
import type * as Storage from '@aws-sdk/lib-storage';
import { StrataError } from '../errors.js';
import { checkObjectName, type BackupTarget } from './backup-target.js';

/** Where an S3 (or S3-compatible) target keeps its backups. */
export interface S3TargetOptions {
  bucket: string;
  /** Object key prefix, e.g. `backups/app` (no leading or trailing `/`). @default '' */
  prefix?: string;
  /** The service URL of an S3-compatible server, e.g. `http://127.0.0.1:9000`. @default AWS */
  endpoint?: string;
  /** @default the SDK's (AWS_REGION), else 'us-east-1' */
  region?: string;
  /** Path-style requests (`<endpoint>/<bucket>/<key>`). @default true when `endpoint` is set */
  forcePathStyle?: boolean;
  /** @default the SDK's chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile, instance role */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size in bytes for large backups (S3's minimum is 5 MiB). @default 8 MiB */
  partSize?: number;
}

// Types only: the SDK itself is imported on first use (loadSdk), so stores without S3 never load it.
type S3Sdk = typeof Sdk;
type S3Storage = typeof Storage;
type S3ClientLike = InstanceType<S3Sdk['S3Client']>;

const OPTION_KEYS = new Set(['bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle', 'credentials', 'partSize']);
/** The parameters an `s3://` target URL takes. */
export const S3_URL_PARAMS: ReadonlySet<string> = new Set(['endpoint', 'region', 'forcePathStyle']);
/** S3's bucket naming rules (3-63 of lower-case letters, digits, '.', '-'; no '..'). */
const BUCKET = /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MIN_PART = 5 * 1024 * 1024;

function bad(message: string, hint: string): StrataError {
  return new StrataError('BAD_INPUT', message, { hint });
}

function checkS3Options(options: S3TargetOptions): void {
  if (options === null || typeof options !== 'object')
    throw bad('s3Target: pass an options object', "e.g. s3Target({ bucket: 'app-backups' })");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw bad(`s3Target: unknown option "${key}"`, `the options are ${[...OPTION_KEYS].join(', ')}`);
  }
  if (typeof options.bucket !== 'string' || !BUCKET.test(options.bucket)) {
    throw bad(
      `s3Target: bucket ${JSON.stringify(options.bucket)} is not a valid S3 bucket name`,
      'use 3-63 lower-case letters, digits, "." and "-"',
    );
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && (prefix.startsWith('/') || prefix.endsWith('/')))) {
    throw bad(`s3Target: prefix ${JSON.stringify(prefix)} must not start or end with "/"`, "e.g. prefix: 'backups/app'");
  }
  if (prefix !== '') checkObjectName(prefix, `s3://${options.bucket}`);
  if (options.endpoint !== undefined) {
    let url: URL | null = null;
    try {
      url = typeof options.endpoint === 'string' ? new URL(options.endpoint) : null;
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
      throw bad(
        `s3Target: endpoint must be an http(s) URL without credentials`,
        "e.g. endpoint: 'http://127.0.0.1:9000'; pass keys as credentials or in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
      );
    }
  }
  if (options.region !== undefined && (typeof options.region !== 'string' || !/^[a-z0-9-]{1,40}$/.test(options.region))) {
    throw bad('s3Target: region must be a region name such as "eu-west-1"', "e.g. region: 'us-east-1'");
  }
  if (options.forcePathStyle !== undefined && typeof options.forcePathStyle !== 'boolean') {
    throw bad('s3Target: forcePathStyle must be true or false', 'leave it out to use path style with an endpoint');
  }
  const c = options.credentials;
  if (c !== undefined && (c === null || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string')) {
    // Never echo what was passed: it may be a secret.
    throw bad('s3Target: credentials must be { accessKeyId, secretAccessKey } strings', 'or leave them out to use the SDK chain');
  }
  if (options.partSize !== undefined && (!Number.isSafeInteger(options.partSize) || options.partSize < MIN_PART)) {
    throw bad(`s3Target: partSize must be an integer of at least ${MIN_PART} bytes (5 MiB)`, 'leave it out for 8 MiB');
  }
}

/**
 * `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true`
 * as options. Credentials are never taken from a URL (URLs end up in logs and shell history).
 */
export function parseS3Url(text: string): S3TargetOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad(`${JSON.stringify(text)} is not an s3:// URL`, 'e.g. s3://app-backups/prod?endpoint=http://127.0.0.1:9000');
  }
  if (url.protocol !== 's3:') throw bad(`${JSON.stringify(text)} is not an s3:// URL`, 'e.g. s3://app-backups/prod');
  // URL parsing drops "." and ".." segments: refused rather than silently meaning another prefix.
  if (
    /^s3:\/\/[^/?#]*(\/[^?#]*)?/i
      .exec(text)?.[1]
      ?.split('/')
      .some((s) => s === '.' || s === '..' || /^%2e(%2e)?$/i.test(s))
  ) {
    throw bad(
      `s3:// URL: "." and ".." are not allowed in the prefix`,
      'write the prefix out in full, e.g. s3://app-backups/prod',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw bad(
      's3:// URL: credentials do not belong in the URL',
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass s3Target({ credentials })',
    );
  }
  const options: S3TargetOptions = { bucket: url.hostname };
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  if (prefix !== '') options.prefix = prefix;
  for (const [key, value] of url.searchParams) {
    if (!S3_URL_PARAMS.has(key))
      throw bad(`s3:// URL: unknown parameter "${key}"`, `the parameters are ${[...S3_URL_PARAMS].join(', ')}`);
    if (key === 'forcePathStyle') {
      if (value !== 'true' && value !== 'false')
        throw bad('s3:// URL: forcePathStyle must be true or false', 'e.g. forcePathStyle=true');
      options.forcePathStyle = value === 'true';
    } else if (key === 'endpoint') options.endpoint = value;
    else options.region = value;
  }
  checkS3Options(options);
  return options;
}

let sdk: Promise<{ s3: S3Sdk; storage: S3Storage }> | undefined;
function loadSdk(): Promise<{ s3: S3Sdk; storage: S3Storage }> {
  sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]).then(
    ([s3, storage]) => ({ s3, storage }),
    (cause: unknown) => {
      sdk = undefined;
      throw new StrataError('UNSUPPORTED', 'S3 backup targets need the AWS SDK, which is not installed', {
        cause,
        hint: 'npm install @aws-sdk/client-s3 @aws-sdk/lib-storage',
      });
    },
  );
  return sdk;
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** An SDK failure as a StrataError with what to do; never the request's credentials. */
function s3Error(error: unknown, target: string, action: string, object?: string): StrataError {
  if (error instanceof StrataError) return error;
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? e.code ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const where = object === undefined ? target : `${target}/${object}`;
  if (name === 'NoSuchBucket') {
    return new StrataError('NOT_FOUND', `${action} ${where}: the bucket does not exist`, {
      cause: error,
      hint: 'create the bucket first (e.g. aws s3 mb), or check the bucket name',
    });
  }
  if (
    ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'CredentialsProviderError'].includes(name) ||
    status === 403
  ) {
    return new StrataError('BAD_INPUT', `${action} ${where}: access denied (${name})`, {
      cause: error,
      hint: 'check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or s3Target({ credentials })) and the bucket policy',
    });
  }
  return new StrataError('UNAVAILABLE', `${action} ${where} failed: ${name}${status === undefined ? '' : ` (HTTP ${status})`}`, {
    cause: error,
    hint: 'check that the S3 endpoint is reachable, then retry',
  });
}

const isMissing = (error: unknown): boolean => {
  const e = (error ?? {}) as SdkError;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
};

/**
 * Backups in an S3 bucket (AWS or any S3-compatible server). Objects are `<prefix>/<id>/<part>`;
 * each upload is one object that appears whole or not at all (multipart for large parts, aborted
 * on failure), and the manifest is written last, so an interrupted backup is never listed as
 * complete. The AWS SDK (`@aws-sdk/client-s3`, `@aws-sdk/lib-storage`) is loaded on first use.
 */
export function s3Target(options: S3TargetOptions): BackupTarget {
  checkS3Options(options);
  const bucket = options.bucket;
  const prefix = options.prefix ?? '';
  const base = prefix === '' ? '' : `${prefix}/`;
  const name = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
  const keyOf = (object: string): string => {
    checkObjectName(object, name);
    return base + object;
  };
  let client: Promise<{ client: S3ClientLike; s3: S3Sdk; storage: S3Storage }> | undefined;
  const connect = (): Promise<{ client: S3ClientLike; s3: S3Sdk; storage: S3Storage }> => {
    client ??= loadSdk().then(({ s3, storage }) => ({
      s3,
      storage,
      client: new s3.S3Client({
        region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
        // Backups are checksummed by Strata; the SDK's own trailing checksums are not
        // understood by every S3-compatible server.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    }));
    return client;
  };

  return {
    name,
    async put(object, data) {
      const key = keyOf(object);
      const { client: c, storage } = await connect();
      let bytes = 0;
      async function* counted(): AsyncIterable<Uint8Array> {
        for await (const chunk of data as AsyncIterable<Uint8Array>) {
          bytes += chunk.length;
          yield chunk;
        }
      }
      try {
        const upload = new storage.Upload({
          client: c,
          params: { Bucket: bucket, Key: key, Body: Readable.from(counted()) },
          partSize: options.partSize ?? 8 * 1024 * 1024,
          queueSize: 2,
          leavePartsOnError: false,
        });
        await upload.done();
      } catch (error) {
        throw s3Error(error, name, 'writing', object);
      }
      return { bytes };
    },
    async get(object) {
      const key = keyOf(object);
      const { client: c, s3 } = await connect();
      try {
        const out = await c.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!(out.Body instanceof Readable)) throw new Error('the response body is not a stream');
        return out.Body;
      } catch (error) {
        if (isMissing(error)) {
          throw new StrataError('NOT_FOUND', `no backup object ${object} in ${name}`, {
            hint: 'list the backups with `strata backup list`',
            details: { object },
          });
        }
        throw s3Error(error, name, 'reading', object);
      }
    },
    async size(object) {
      const key = keyOf(object);
      const { client: c, s3 } = await connect();
      try {
        const out = await c.send(new s3.HeadObjectCommand({ Bucket: bucket, Key: key }));
        return out.ContentLength ?? null;
      } catch (error) {
        if (isMissing(error)) return null;
        throw s3Error(error, name, 'reading', object);
      }
    },
    async list(listPrefix = '') {
      const { client: c, s3 } = await connect();
      const out: string[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await c.send(
            new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: base + listPrefix, ContinuationToken: token }),
          );
          for (const item of page.Contents ?? []) {
            const key = item.Key;
            if (key === undefined || !key.startsWith(base)) continue;
            const rel = key.slice(base.length);
            // Objects Strata could not have written (other tools' files) are not backups.
            try {
              checkObjectName(rel, name);
            } catch {
              continue;
            }
            out.push(rel);
          }
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
      } catch (error) {
        throw s3Error(error, name, 'listing');
      }
      return out.sort();
    },
    async delete(object) {
      const key = keyOf(object);
      const { client: c, s3 } = await connect();
      try {
        await c.send(new s3.DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (isMissing(error)) return;
        throw s3Error(error, name, 'deleting', object);
      }
    },
  };
}
