/**
 * What test/setup/global-setup.ts hands to integration tests through `project.provide`,
 * read back with `inject(...)` (see test/support/services.ts). Declared here once so both
 * sides are type-checked against the same shape.
 */
export interface ServicesContext {
  /** True when a real Kafka broker and a real Redis answered before the tests started. */
  servicesAvailable: boolean;
  /** Why they are unavailable ('' when available). Integration suites print it when skipping. */
  servicesUnavailableReason: string;
  /** Comma-separated `host:port` list, e.g. `127.0.0.1:39092` ('' when unavailable). */
  kafkaBrokers: string;
  /** e.g. `redis://127.0.0.1:36379` ('' when unavailable). */
  redisUrl: string;
}

declare module 'vitest' {
  // Interface merging is the documented way to type `provide`/`inject`.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends ServicesContext {}
}
