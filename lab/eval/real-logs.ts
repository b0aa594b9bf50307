/**
 * Real access logs through the product path, `trustline import-log --format combined` then
 * `trustline replay` (spawned exactly as a user runs them), and an analysis of what was
 * flagged and why (docs/evaluation.md, "Robustness"):
 *
 *  - per agent: events, flagged or not, the first flagged record's band, circuit and reasons;
 *  - the declared-crawler proxy label: the agent's user agent matches a pattern of
 *    crawler-user-agents.json (README beside the log: noisy in both directions);
 *  - a sanity check that no reason fires for a cause the record cannot have: purpose_mismatch on
 *    a path with no privileged segment, error reasons when every client error so far was a
 *    favicon / touch-icon / robots / sitemap miss, auth reasons without any 401, scope and
 *    sensitivity/amount/token reasons on records that carry no scope, action or token at all.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { AgentRequestEvent, Band, CircuitState, Reason } from '../../src/contract/schemas.ts';
import { isFlagged } from './evaluator.ts';
import { rocAuc } from './metrics.ts';

/** Path segments that make a request privileged (whole segments, case-insensitive; a script extension is ignored: /admin.php). */
export const PRIVILEGED_SEGMENTS = new Set([
  'admin',
  'administrator',
  'wp-admin',
  'wp-login.php',
  'xmlrpc.php',
  'login',
  'signin',
  'auth',
  'oauth',
  'token',
  '.env',
  '.git',
  'phpmyadmin',
  'pma',
  'myadmin',
  'config',
  'configuration',
  'actuator',
  'api-keys',
  'apikeys',
  'keys',
  'roles',
  'users',
  'accounts',
  'payout',
  'payouts',
  'billing',
  'manager',
  'console',
  'cgi-bin',
  'setup.php',
  'install.php',
  'shell',
  'backup',
  'backups',
  'settings',
  'secrets',
  'credentials',
  'iban',
  'passwd',
  'etc',
  'server-status',
  'jmx-console',
  'solr',
]);
/** Client errors a browser or crawler makes on any site (never evidence of scanning). */
export const HARMLESS_MISS =
  /(^|\/)(favicon\.ico|apple-touch-icon[^/]*\.png|robots\.txt|sitemap[^/]*\.xml|browserconfig\.xml|humans\.txt|ads\.txt|site\.webmanifest|manifest\.json)$/i;

const ERROR_REASONS = new Set(['error_ratio', 'errors_above_baseline']);
const AUTH_REASONS = new Set(['auth_failure', 'auth_failures']);
const ACTION_REASONS = new Set(['sensitivity_above_usual', 'sensitive_action_velocity', 'sensitive_share_drift', 'amount_unusual']);

type ScoreRow = {
  agentId: string;
  eventId: string;
  seq: number;
  ts: number;
  anomaly: number;
  trust: number;
  band: Band;
  circuit: CircuitState;
  reasons: Reason[];
};

export type RealAgent = {
  agentId: string;
  userAgent: string;
  declaredBot: boolean;
  events: number;
  flagged: boolean;
  firstFlag: { eventIndex: number; band: Band; circuit: CircuitState; trust: number; reasons: string[]; path: string } | null;
  lowestTrust: number;
  maxAnomaly: number;
  topPaths: string[];
};

export type Nonsense = { rule: string; agentId: string; eventIndex: number; path: string; status: number; reason: string; flagged: boolean };

export type RealLogResult = {
  log: string;
  lines: number;
  events: number;
  agents: number;
  declaredBots: number;
  agentsWith1to3Events: number;
  flagged: { agents: number; declaredBots: number; others: number; flaggedWith1to3Events: number };
  earliestFlagEventIndex: number | null;
  /** Agent-level ROC-AUC, declared bots as positives (a sanity figure, not a detection rate). */
  aucDeclaredBotMaxAnomaly: number | null;
  aucDeclaredBotMinTrust: number | null;
  reasonCounts: Record<string, number>;
  flaggedReasonCounts: Record<string, number>;
  nonsense: { total: number; onFlagged: number; byRule: Record<string, number>; examples: Nonsense[] };
  flaggedAgents: RealAgent[];
};

/** The real-logs directory: `$TRUSTLINE_REAL_LOGS`, else `../shared/data/real-logs` from the repository root or from the main worktree. */
export function findRealLogs(repoRoot: string): string | null {
  const candidates = [process.env['TRUSTLINE_REAL_LOGS'], resolve(repoRoot, '../shared/data/real-logs')];
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    candidates.push(resolve(dirname(common), '../shared/data/real-logs'));
  } catch {
    // not a git checkout: the first two candidates only
  }
  for (const c of candidates) if (c && existsSync(join(c, 'apache_logs'))) return c;
  return null;
}

function compilePatterns(file: string): RegExp[] {
  const list = JSON.parse(readFileSync(file, 'utf8')) as { pattern: string }[];
  const out: RegExp[] = [];
  for (const { pattern } of list) {
    try {
      out.push(new RegExp(pattern));
    } catch {
      // a pattern JavaScript cannot compile is skipped (none in the pinned file)
    }
  }
  return out;
}

function readJsonl<T>(file: string): T[] {
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as T);
}

/**
 * Imports and replays `logFile` with the `trustline` CLI of `repoRoot`'s sources (model card `card`), into `workDir`,
 * and analyses the outputs.
 */
export function analyseRealLog(repoRoot: string, logFile: string, crawlerFile: string, card: string, workDir: string): RealLogResult {
  mkdirSync(workDir, { recursive: true });
  const events = join(workDir, 'events.jsonl');
  const out = join(workDir, 'replay');
  // `trustline` from the checkout's sources (lab/eval/trustline-src.ts), not a possibly stale dist/ build.
  const cli = [process.execPath, '--import', 'tsx', join(repoRoot, 'lab/eval/trustline-src.ts')] as const;
  const env = { ...process.env, TRUSTLINE_MODEL_CARD: resolve(card) };
  execFileSync(cli[0], [...cli.slice(1), 'import-log', logFile, '--format', 'combined', '--out', events], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  execFileSync(cli[0], [...cli.slice(1), 'replay', events, '--out', out], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0).length;
  return analyse(logFile, lines, readJsonl<AgentRequestEvent>(events), readJsonl<ScoreRow>(join(out, 'scores.jsonl')), compilePatterns(crawlerFile));
}

/** The analysis of imported events and their replay's score rows (same order, one row per event). */
export function analyse(log: string, lines: number, events: readonly AgentRequestEvent[], scores: readonly ScoreRow[], bots: readonly RegExp[]): RealLogResult {
  const byId = new Map(events.map((e) => [e.eventId, e]));
  type Acc = RealAgent & {
    clientErrors: number;
    harmlessErrors: number;
    unauthorized: number;
    forbidden: number;
    privileged: number;
    paths: Map<string, number>;
  };
  const agents = new Map<string, Acc>();
  const reasonCounts: Record<string, number> = {};
  const flaggedReasonCounts: Record<string, number> = {};
  const nonsense: Nonsense[] = [];
  const byRule: Record<string, number> = {};
  let onFlagged = 0;
  for (const row of scores) {
    const e = byId.get(row.eventId);
    if (!e) continue;
    let a = agents.get(row.agentId);
    if (!a) {
      const ua = e.agent.userAgent ?? '';
      a = {
        agentId: row.agentId,
        userAgent: ua,
        declaredBot: ua !== '' && bots.some((p) => p.test(ua)),
        events: 0,
        flagged: false,
        firstFlag: null,
        lowestTrust: 1,
        maxAnomaly: 0,
        topPaths: [],
        clientErrors: 0,
        harmlessErrors: 0,
        unauthorized: 0,
        forbidden: 0,
        privileged: 0,
        paths: new Map(),
      };
      agents.set(row.agentId, a);
    }
    a.events++;
    const path = (e.request.path ?? e.request.route).split('?')[0]!;
    a.paths.set(path, (a.paths.get(path) ?? 0) + 1);
    const st = e.request.status;
    if (st >= 400 && st < 500 && st !== 408 && st !== 429) {
      a.clientErrors++;
      if (HARMLESS_MISS.test(path)) a.harmlessErrors++;
    }
    if (st === 401) a.unauthorized++;
    if (st === 403) a.forbidden++;
    if (isPrivileged(path)) a.privileged++;
    a.lowestTrust = Math.min(a.lowestTrust, row.trust);
    a.maxAnomaly = Math.max(a.maxAnomaly, row.anomaly);
    const flagged = isFlagged(row.band, row.circuit);
    for (const r of row.reasons) {
      reasonCounts[r.code] = (reasonCounts[r.code] ?? 0) + 1;
      if (flagged) flaggedReasonCounts[r.code] = (flaggedReasonCounts[r.code] ?? 0) + 1;
      const rule = nonsensical(r.code, e, path, a);
      if (rule) {
        byRule[rule] = (byRule[rule] ?? 0) + 1;
        if (flagged) onFlagged++;
        if (nonsense.length < 2000) nonsense.push({ rule, agentId: a.agentId, eventIndex: a.events, path, status: st, reason: r.code, flagged });
      }
    }
    if (flagged && !a.flagged) {
      a.flagged = true;
      a.firstFlag = { eventIndex: a.events, band: row.band, circuit: row.circuit, trust: row.trust, reasons: row.reasons.map((r) => r.code), path };
    }
  }
  const list = [...agents.values()].map(({ clientErrors: _c, harmlessErrors: _h, unauthorized: _u, forbidden: _f, privileged: _p, paths, ...rest }) => ({
    ...rest,
    topPaths: [...paths.entries()]
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
      .slice(0, 3)
      .map(([p, n]) => `${p} ×${n}`),
  }));
  const flagged = list.filter((a) => a.flagged);
  const few = (a: RealAgent): boolean => a.events <= 3;
  const auc = (s: number[]): number | null => {
    const v = rocAuc(
      s,
      list.map((a) => (a.declaredBot ? 1 : 0)),
    );
    return Number.isFinite(v) ? Math.round(v * 10_000) / 10_000 : null;
  };
  // Examples: the first of each rule, then in order.
  const examples: Nonsense[] = [];
  for (const rule of Object.keys(byRule)) examples.push(...nonsense.filter((n) => n.rule === rule).slice(0, 3));
  return {
    log,
    lines,
    events: events.length,
    agents: list.length,
    declaredBots: list.filter((a) => a.declaredBot).length,
    agentsWith1to3Events: list.filter(few).length,
    flagged: {
      agents: flagged.length,
      declaredBots: flagged.filter((a) => a.declaredBot).length,
      others: flagged.filter((a) => !a.declaredBot).length,
      flaggedWith1to3Events: flagged.filter(few).length,
    },
    earliestFlagEventIndex: flagged.length ? Math.min(...flagged.map((a) => a.firstFlag!.eventIndex)) : null,
    aucDeclaredBotMaxAnomaly: auc(list.map((a) => a.maxAnomaly)),
    aucDeclaredBotMinTrust: auc(list.map((a) => 1 - a.lowestTrust)),
    reasonCounts,
    flaggedReasonCounts,
    nonsense: { total: Object.values(byRule).reduce((s, n) => s + n, 0), onFlagged, byRule, examples },
    flaggedAgents: flagged.sort((x, y) => y.events - x.events || (x.agentId < y.agentId ? -1 : 1)),
  };
}

/** Whether a path has a privileged segment (whole segments, case-insensitive). */
export function isPrivileged(path: string): boolean {
  return path
    .toLowerCase()
    .split('/')
    .some((s) => s !== '' && (PRIVILEGED_SEGMENTS.has(s) || PRIVILEGED_SEGMENTS.has(s.replace(/\.(php\d?|aspx?|jsp|cgi|pl|html?|do|action)$/, ''))));
}

/** The rule a reason breaks on this record, or null when the reason can have a real cause. */
export function nonsensical(
  code: string,
  e: AgentRequestEvent,
  path: string,
  a: { clientErrors: number; harmlessErrors: number; unauthorized: number; forbidden: number; privileged: number },
): string | null {
  if (code === 'purpose_mismatch' && !isPrivileged(path)) return 'purpose_mismatch on a path with no privileged segment';
  // Agent-level privileged-route reasons (e.g. a share above its peers') need one privileged request so far.
  if (code !== 'purpose_mismatch' && code.startsWith('privileged') && a.privileged === 0)
    return 'privileged-route reason for an agent with no privileged request';
  if (ERROR_REASONS.has(code) && a.clientErrors > 0 && a.clientErrors === a.harmlessErrors)
    return 'error reason when every client error was a favicon/touch-icon/robots/sitemap miss';
  if (ERROR_REASONS.has(code) && a.clientErrors === 0) return 'error reason without any client error';
  if (AUTH_REASONS.has(code) && a.unauthorized === 0) return 'auth reason without any 401';
  if (code === 'scope_violation' && !e.agent.auth.scopes && !e.action?.requiredScope) return 'scope_violation on a record with no scopes';
  if (code === 'forbidden_responses' && a.forbidden === 0) return 'forbidden_responses without any 403';
  if (ACTION_REASONS.has(code) && !e.action) return 'sensitivity/amount reason on a record with no action';
  if (code === 'token_age' && e.agent.auth.tokenAgeS === undefined) return 'token_age on a record with no token';
  if (code === 'signature_failed' && e.agent.auth.method !== 'http_signature') return 'signature_failed without a signature';
  return null;
}
