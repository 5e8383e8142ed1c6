import Database from 'better-sqlite3';

/**
 * Closing the last connection normally checkpoints the WAL into the file and deletes it. After
 * damage was found that would rewrite the evidence (and could spread it), so a read-only
 * connection is held open meanwhile: the writer is then not the last and skips the
 * checkpoint, and a read-only connection never checkpoints. The WAL stays as it was.
 */
export function closeDamaged(conn: Database.Database, location: string): void {
  let witness: Database.Database | null = null;
  try {
    witness = new Database(location, { readonly: true, fileMustExist: true });
    witness.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch {
    // Could not open a second connection: fall back to a plain close.
  }
  conn.close();
  witness?.close();
}
