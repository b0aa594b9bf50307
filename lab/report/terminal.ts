/**
 * Small terminal helpers for the CLI's live views (demo, publish): ANSI colours, bars and a
 * progress reporter that redraws one line on a TTY and prints plain, occasional lines
 * elsewhere (CI logs, pipes). No dependencies.
 */

/** ANSI SGR codes used by the views. */
export const SGR = { reset: 0, bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90 } as const;

/** `text` wrapped in the SGR `codes` when `enabled`. */
export function paint(enabled: boolean, text: string, ...codes: number[]): string {
  return enabled && codes.length ? `\x1b[${codes.join(';')}m${text}\x1b[0m` : text;
}

const PARTIAL = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `width` cells filled to `fraction` (0..1), in eighths of a cell. */
export function bar(fraction: number, width: number, empty = '░'): string {
  const f = Math.min(Math.max(Number.isFinite(fraction) ? fraction : 0, 0), 1);
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = PARTIAL[eighths % 8]!;
  return '█'.repeat(full) + part + empty.repeat(Math.max(0, width - full - (part ? 1 : 0)));
}

/** `text` cut to `width` code points, with `…` when cut; padded with spaces to `width` when `pad`. */
export function fit(text: string, width: number, pad = false): string {
  const chars = Array.from(text);
  const out = chars.length > width ? chars.slice(0, Math.max(0, width - 1)).join('') + '…' : text;
  return pad ? out + ' '.repeat(Math.max(0, width - Math.min(chars.length, width))) : out;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** The stream a progress reporter writes to. */
export type Out = { write(s: string): unknown; isTTY?: boolean; columns?: number };

/**
 * Progress of a bounded job: on a TTY one line redrawn in place (at most ~12 times a second);
 * elsewhere a plain line at every 10 % step. `done()` prints the final line.
 */
export class Progress {
  private lastDraw = 0;
  private lastStep = -1;
  private readonly tty: boolean;

  constructor(
    private readonly out: Out,
    private readonly total: number,
    private readonly label: string,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tty = out.isTTY === true;
  }

  update(done: number, detail = ''): void {
    const f = this.total > 0 ? done / this.total : 1;
    if (this.tty) {
      const t = this.clock();
      if (t - this.lastDraw < 80 && done < this.total) return;
      this.lastDraw = t;
      const cols = this.out.columns ?? 80;
      const width = Math.max(10, Math.min(40, cols - 70));
      // One physical line: a wrapped line could not be redrawn in place.
      this.out.write(
        `\r\x1b[2K${fit(`${this.label} ${bar(f, width)} ${(100 * f).toFixed(0).padStart(3)}%  ${count(done)}/${count(this.total)}${detail ? `  ${detail}` : ''}`, cols - 1)}`,
      );
      return;
    }
    const step = Math.floor(f * 10);
    if (step > this.lastStep && step < 10) {
      this.lastStep = step;
      this.out.write(`${this.label}: ${(100 * f).toFixed(0).padStart(3)}%  ${count(done)}/${count(this.total)}${detail ? `  ${detail}` : ''}\n`);
    }
  }

  done(doneCount: number, detail = ''): void {
    const line = `${this.label}: 100%  ${count(doneCount)}/${count(this.total)}${detail ? `  ${detail}` : ''}`;
    this.out.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }
}

/**
 * A circuit change in words, saying what happened rather than `open → open`: `opened`,
 * `re-opened` (an open circuit extended, or a failed half-open probe), `half-open (probing)`,
 * `closed`, and operator actions. Always ends with the raw `previous → state`.
 */
export function circuitChangeText(previous: string, state: string): string {
  const raw = `${previous.replace('_', '-')} → ${state.replace('_', '-')}`;
  let what: string;
  if (state === 'open') what = previous === 'open' ? 're-opened' : previous === 'half_open' ? 're-opened (failed probe)' : 'opened';
  else if (state === 'half_open') what = 'half-open (probing)';
  else if (state === 'forced_open') what = previous === 'forced_open' ? 'forced open again by an operator' : 'forced open by an operator';
  else if (state === 'forced_closed') what = 'forced closed by an operator';
  else what = previous === 'closed' ? 'closed (unchanged)' : 'closed';
  return `circuit ${what} (${raw})`;
}
