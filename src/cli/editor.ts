/**
 * Opens the user's editor on a file, as `virsh net-edit` does ($VISUAL, else $EDITOR, else vi).
 *
 * THE ONLY PROCESS SPAWN IN src/: hostwire never runs helper programs (ip, brctl, virsh ...);
 * handing the terminal to the user's editor is the one exception, and it lives here alone.
 */
import { spawnSync } from 'child_process';
import { HostwireError } from '../errors';

/** The editor command line: $VISUAL, else $EDITOR, else vi (may carry arguments, as `code -w`). */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi';
}

/**
 * Runs the editor on `file` with the terminal (stdio inherited) and waits for it to exit.
 * 'EEDITOR' when it cannot be started or exits non-zero.
 */
export function runEditor(file: string, env: NodeJS.ProcessEnv = process.env): void {
  const cmd = editorCommand(env);
  // Through the shell, like virsh (and git): EDITOR may be "emacs -nw" or "code --wait".
  const r = spawnSync('/bin/sh', ['-c', `${cmd} "$1"`, 'editor', file], { stdio: 'inherit', env });
  if (r.error) throw new HostwireError('EEDITOR', `cannot run editor '${cmd}': ${r.error.message}`);
  if (r.status !== 0)
    throw new HostwireError(
      'EEDITOR',
      `editor '${cmd}' ${r.signal ? `was killed by ${r.signal}` : `exited with status ${r.status}`}; nothing changed`,
    );
}
