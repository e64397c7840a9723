import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Where one secret's value comes from. The configuration loader asks every source for every secret
 * variable (SECRET_VARIABLES in libs/config/src/config.schema.ts); a variable that more than one
 * source provides is refused (two places that disagree about a key are an incident waiting to
 * happen: which one did the process take?).
 *
 * Built in: the environment itself (`AUTH_TOKEN_PEPPER=…`) and a file named by `NAME_FILE`
 * (`AUTH_TOKEN_PEPPER_FILE=/run/secrets/auth_token_pepper`: Docker and Kubernetes secrets, a file
 * a Vault agent or a cloud secret manager's CSI driver renders). A source that fetches from a
 * secret manager's API implements this interface and is passed to `loadConfig(env, sources)`;
 * docs/configuration.md, "Secrets from files and secret managers", shows how.
 *
 * Implementations never put a value in an error: a `SecretSourceError` names the variable and
 * what is wrong with the source, and the loader turns it into a ConfigError problem.
 */
export interface SecretSource {
  /**
   * The value this source holds for `variable`, with `via` naming where it came from in words an
   * operator can act on (`AUTH_TOKEN_PEPPER`, `AUTH_TOKEN_PEPPER_FILE`), or undefined when this
   * source does not provide the variable. Throws SecretSourceError when it should provide it but
   * cannot (unreadable file, empty file).
   */
  read(variable: string): SecretValue | undefined;
}

export interface SecretValue {
  readonly via: string;
  readonly value: string;
}

/** A source that should provide a secret and cannot; `variable` is the one an operator fixes. */
export class SecretSourceError extends Error {
  constructor(
    readonly variable: string,
    readonly rule: string,
  ) {
    super(`${variable} ${rule}`);
    this.name = 'SecretSourceError';
  }
}

/** `NAME=value` in the environment; an empty value counts as unset (as for every variable). */
export class EnvironmentSecretSource implements SecretSource {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  read(variable: string): SecretValue | undefined {
    const value = this.env[variable];
    return value === undefined || value === '' ? undefined : { via: variable, value };
  }
}

/** Larger than any key ring or JWK set Benteng reads: a file this big is the wrong file. */
export const SECRET_FILE_MAX_BYTES = 65_536;

/**
 * `NAME_FILE=/path`: the file's content, without one trailing line break (`echo` and most editors
 * add one; Kubernetes and Docker keep the bytes as written). Only regular files up to
 * SECRET_FILE_MAX_BYTES are read, so a path at a device or a FIFO cannot hang the start.
 *
 * Errors carry the error code, never the path: a secret pasted into `NAME_FILE` by mistake would
 * otherwise be echoed to the crash log as "cannot read <the secret>".
 */
export class FileSecretSource implements SecretSource {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  read(variable: string): SecretValue | undefined {
    const fileVariable = `${variable}_FILE`;
    const path = this.env[fileVariable];
    if (path === undefined || path === '') return undefined;
    const content = readSecretFile(path, fileVariable);
    const value = content.replace(/\r?\n$/, '');
    if (value === '') throw new SecretSourceError(fileVariable, 'names an empty file');
    return { via: fileVariable, value };
  }
}

function readSecretFile(path: string, fileVariable: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new SecretSourceError(fileVariable, `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretSourceError(fileVariable, 'must name a regular file');
    if (stat.size > SECRET_FILE_MAX_BYTES) throw new SecretSourceError(fileVariable, `names a file larger than ${SECRET_FILE_MAX_BYTES} bytes`);
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = readSync(fd, buffer, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    const text = buffer.subarray(0, read).toString('utf8');
    if (text.includes('\uFFFD')) throw new SecretSourceError(fileVariable, 'names a file that is not UTF-8 text');
    return text;
  } catch (error) {
    if (error instanceof SecretSourceError) throw error;
    throw new SecretSourceError(fileVariable, `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    closeSync(fd);
  }
}

/** The sources `loadConfig` uses unless told otherwise: the environment, then `NAME_FILE`. */
export function defaultSecretSources(env: NodeJS.ProcessEnv): SecretSource[] {
  return [new EnvironmentSecretSource(env), new FileSecretSource(env)];
}

/**
 * One secret from the given sources: undefined when none provides it, the value when exactly one
 * does. Refuses (SecretSourceError) a variable more than one source provides.
 */
export function resolveSecret(variable: string, sources: readonly SecretSource[]): string | undefined {
  const found = sources.map((source) => source.read(variable)).filter((v): v is SecretValue => v !== undefined);
  if (found.length > 1) throw new SecretSourceError(variable, `is set more than once (${found.map((f) => f.via).join(' and ')}); set exactly one`);
  return found[0]?.value;
}
