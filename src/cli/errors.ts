// How a failed command is reported: one line on stderr, `consentgate: [CODE] what happened — what to do`, and an
// exit code (2: the command line, configuration or an input file is wrong; 1: the work itself failed).

/** The user gave the command something it cannot use; exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string, readonly code = 'USAGE') {
    super(message);
    this.name = 'UsageError';
  }
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, a file was expected',
  ENOTDIR: 'a path component is not a directory',
};

/** The line to print and the exit code for an error that ended a command. */
export function failure(err: unknown): { message: string; exitCode: number } {
  const e = err as Error & { code?: string; exitCode?: number; path?: string; syscall?: string };
  if (e?.code && e.path && FILE_ERRORS[e.code]) {
    return { message: `consentgate: [${e.code}] cannot ${e.syscall === 'scandir' ? 'list' : 'read'} ${e.path}: ${FILE_ERRORS[e.code]} — check the path`, exitCode: 2 };
  }
  const code = e?.code ?? (e instanceof SyntaxError ? 'INVALID_JSON' : 'ERROR');
  const exitCode = e?.exitCode ?? (code === 'CONFIG_INVALID' ? 2 : 1);
  return { message: `consentgate: [${code}] ${e?.message ?? String(err)}`, exitCode };
}
