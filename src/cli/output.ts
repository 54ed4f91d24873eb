/**
 * Standard output for the `hostwire` command, written with write(2) on fd 1 as each line is
 * ready. process.stdout would load node's streams (about 1.5 ms of every start-up) and queue
 * what it cannot write at once; a synchronous write keeps the output in order with the work and
 * puts a line in the reader's hands before the next one is started (`batch -`).
 *
 * When fd 1 is non-blocking (EAGAIN: a parent that left it so), what is left and everything
 * after it go through process.stdout instead, in order. A reader that went away gives EPIPE,
 * thrown to the caller (node ignores SIGPIPE).
 */
import * as fs from 'fs';
import { exitNow } from '../native';

let stream = false;

/** Writes `text` to standard output, whole. */
export function writeOut(text: string): void {
  if (stream) {
    process.stdout.write(text);
    return;
  }
  let buf = Buffer.from(text);
  while (buf.length) {
    let n: number;
    try {
      n = fs.writeSync(1, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      stream = true;
      process.stdout.write(buf);
      return;
    }
    buf = buf.subarray(n);
  }
}

/** Writes one line (a newline is added unless `text` ends with one). */
export function writeLine(text: string): void {
  writeOut(text.endsWith('\n') ? text : text + '\n');
}

/**
 * Ends the process with `code` once everything written has reached fd 1 (at once, unless the
 * output went to process.stdout's queue: then when it drains). The command is done when this is
 * called: the process exits without waiting for node to tear down the heap and the libraries'
 * state on its own (a few milliseconds of every command, more with libvirt loaded): native.ts
 * exitNow, _exit through the kernel addon.
 */
export function exitWhenWritten(code: number): void {
  if (stream && process.stdout.writableLength > 0) process.stdout.once('drain', () => exitNow(code));
  else exitNow(code);
}
