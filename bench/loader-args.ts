// For benchmarks that run a measuring script in a child node process.

/**
 * The module hooks this process was started with (tsx's, when run from the .ts sources), so a
 * child can run a sibling script the same way; nothing else, since `-e`, `-p` and the like
 * would replace the script the child is meant to run.
 */
export function loaderArgs(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
    else if (['--import', '--require', '-r', '--loader', '--experimental-loader'].includes(a) && i + 1 < args.length) out.push(a, args[++i] as string);
  }
  return out;
}
