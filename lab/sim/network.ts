/**
 * Network origins for simulated agents: cloud regions, residential and mobile ISPs,
 * and hosting/proxy networks typical of attack infrastructure. ASNs are the real public
 * numbers of these providers; addresses are drawn from plausible prefixes (documentation
 * quality, not geolocation truth).
 */
import type { Rng } from './prng.ts';
import type { NetIdentity } from './types.ts';

interface Provider {
  asn: number;
  kind: NetIdentity['kind'];
  countries: readonly string[];
  /** first octets (IPv4) */
  v4: readonly number[];
  /** IPv6 /32 prefixes, when the provider is given IPv6 addresses */
  v6?: readonly string[];
}

const CLOUD: readonly Provider[] = [
  { asn: 16509, kind: 'cloud', countries: ['US', 'IE', 'DE', 'JP', 'SG', 'GB'], v4: [3, 18, 52, 54], v6: ['2600:1f18', '2a05:d014'] },
  { asn: 15169, kind: 'cloud', countries: ['US', 'NL', 'DE', 'JP'], v4: [34, 35], v6: ['2600:1900'] },
  { asn: 396982, kind: 'cloud', countries: ['US', 'BE', 'SG'], v4: [34, 35] },
  { asn: 8075, kind: 'cloud', countries: ['US', 'NL', 'IE', 'GB', 'AU'], v4: [20, 40, 52], v6: ['2603:1030'] },
  { asn: 24940, kind: 'cloud', countries: ['DE', 'FI'], v4: [88, 78, 5], v6: ['2a01:4f8'] },
  { asn: 16276, kind: 'cloud', countries: ['FR', 'CA', 'DE'], v4: [51, 54, 145] },
];

const RESIDENTIAL: readonly Provider[] = [
  { asn: 7922, kind: 'residential', countries: ['US'], v4: [73, 98, 24], v6: ['2601:0'] },
  { asn: 701, kind: 'residential', countries: ['US'], v4: [71, 108] },
  { asn: 3320, kind: 'residential', countries: ['DE'], v4: [79, 91, 93], v6: ['2003:e0'] },
  { asn: 3215, kind: 'residential', countries: ['FR'], v4: [90, 86, 92] },
  { asn: 2856, kind: 'residential', countries: ['GB'], v4: [81, 86, 109] },
  { asn: 4713, kind: 'residential', countries: ['JP'], v4: [60, 125, 153] },
  { asn: 1221, kind: 'residential', countries: ['AU'], v4: [101, 110, 58] },
  { asn: 6830, kind: 'residential', countries: ['NL', 'DE', 'GB'], v4: [84, 62] },
  { asn: 18881, kind: 'residential', countries: ['BR'], v4: [177, 179, 191] },
  { asn: 9498, kind: 'residential', countries: ['IN'], v4: [122, 59, 182] },
];

const MOBILE: readonly Provider[] = [
  { asn: 22394, kind: 'mobile', countries: ['US'], v4: [174, 97], v6: ['2600:1000'] },
  { asn: 21928, kind: 'mobile', countries: ['US'], v4: [172], v6: ['2607:fb90'] },
  { asn: 3209, kind: 'mobile', countries: ['DE'], v4: [109, 88], v6: ['2a02:3030'] },
  { asn: 12576, kind: 'mobile', countries: ['GB'], v4: [92, 31] },
  { asn: 51207, kind: 'mobile', countries: ['FR'], v4: [37, 80] },
  { asn: 2516, kind: 'mobile', countries: ['JP'], v4: [106, 49] },
  { asn: 4804, kind: 'mobile', countries: ['AU'], v4: [120, 49] },
  { asn: 26599, kind: 'mobile', countries: ['BR'], v4: [187, 191] },
  { asn: 45609, kind: 'mobile', countries: ['IN'], v4: [106, 223] },
  { asn: 33915, kind: 'mobile', countries: ['NL'], v4: [31, 86] },
];

/** Hosting, VPN and proxy networks favoured by attackers (but also used by some benign agents). */
const HOSTING: readonly Provider[] = [
  { asn: 14061, kind: 'hosting', countries: ['US', 'NL', 'DE', 'SG', 'IN'], v4: [104, 159, 165, 167] },
  { asn: 20473, kind: 'hosting', countries: ['US', 'NL', 'JP', 'DE'], v4: [45, 66, 108, 149] },
  { asn: 9009, kind: 'hosting', countries: ['RO', 'NL', 'GB', 'US', 'HK'], v4: [89, 185, 146] },
  { asn: 60068, kind: 'hosting', countries: ['GB', 'US', 'DE', 'FR'], v4: [185, 212, 89] },
  { asn: 212238, kind: 'hosting', countries: ['NL', 'CH', 'SE'], v4: [193, 194, 185] },
  { asn: 49981, kind: 'hosting', countries: ['NL', 'US'], v4: [45, 185] },
  { asn: 4134, kind: 'residential', countries: ['CN'], v4: [58, 113, 183] },
  { asn: 12389, kind: 'residential', countries: ['RU'], v4: [95, 178, 5] },
  { asn: 9829, kind: 'residential', countries: ['IN'], v4: [117, 59] },
  { asn: 7552, kind: 'residential', countries: ['VN'], v4: [113, 171, 14] },
  { asn: 8452, kind: 'residential', countries: ['EG'], v4: [41, 156, 197] },
  { asn: 28573, kind: 'residential', countries: ['BR'], v4: [177, 189, 200] },
];

/** UTC offset in hours used for the diurnal profile of an agent in a given country. */
export const COUNTRY_TZ: Readonly<Record<string, number>> = {
  US: -6,
  CA: -5,
  BR: -3,
  GB: 0,
  IE: 0,
  FR: 1,
  DE: 1,
  NL: 1,
  BE: 1,
  FI: 2,
  CH: 1,
  SE: 1,
  RO: 2,
  IN: 5,
  SG: 8,
  HK: 8,
  CN: 8,
  JP: 9,
  AU: 10,
  VN: 7,
  EG: 2,
  RU: 3,
};

/** Where an agent runs. */
export type NetKind = 'cloud' | 'residential' | 'mobile' | 'hosting';

function providersOf(kind: NetKind): readonly Provider[] {
  switch (kind) {
    case 'cloud':
      return CLOUD;
    case 'residential':
      return RESIDENTIAL;
    case 'mobile':
      return MOBILE;
    case 'hosting':
      return HOSTING;
  }
}

/** A stable address block of one provider, from which an agent draws its addresses. */
export interface NetBlock {
  asn: number;
  country: string;
  kind: NetIdentity['kind'];
  v6: boolean;
  /** IPv4: first three octets; IPv6: first four groups */
  prefix: string;
}

function block(rng: Rng, p: Provider, country: string, preferV6: boolean): NetBlock {
  const v6 = preferV6 && p.v6 !== undefined;
  if (v6) {
    const base = rng.pick(p.v6!);
    const groups = base.split(':').length;
    const extra: string[] = [];
    for (let i = groups; i < 4; i++) extra.push(rng.int(0, 0xffff).toString(16));
    return { asn: p.asn, country, kind: p.kind, v6: true, prefix: [base, ...extra].join(':') };
  }
  const first = rng.pick(p.v4);
  return { asn: p.asn, country, kind: p.kind, v6: false, prefix: `${first}.${rng.int(0, 255)}.${rng.int(0, 255)}` };
}

/** A block of the given kind, optionally in a country (falls back to any provider). */
export function pickBlock(rng: Rng, kind: NetKind, opts: { country?: string; notCountry?: string; notAsn?: number; v6Chance?: number } = {}): NetBlock {
  let candidates = providersOf(kind).filter((p) => p.asn !== opts.notAsn);
  if (opts.country) {
    const inCountry = candidates.filter((p) => p.countries.includes(opts.country!));
    if (inCountry.length > 0) candidates = inCountry;
  }
  if (opts.notCountry) {
    const others = candidates.filter((p) => p.countries.some((c) => c !== opts.notCountry));
    if (others.length > 0) candidates = others;
  }
  const p = rng.pick(candidates);
  let countries = p.countries.filter((c) => c !== opts.notCountry);
  if (opts.country && p.countries.includes(opts.country)) countries = [opts.country];
  const country = rng.pick(countries.length > 0 ? countries : p.countries);
  return block(rng, p, country, rng.chance(opts.v6Chance ?? 0));
}

/** An address inside a block; `host` ≥ 1 selects the host part deterministically. */
export function addressIn(b: NetBlock, host: number): string {
  if (b.v6) return `${b.prefix}::${(host & 0xffff).toString(16)}`;
  return `${b.prefix}.${1 + (host % 254)}`;
}

/** A network identity at one address of a block. */
export function netAt(b: NetBlock, host: number): NetIdentity {
  return { ip: addressIn(b, host), asn: b.asn, country: b.country, kind: b.kind };
}

/** Countries for which every provider family has a presence (agents' home countries). */
export const HOME_COUNTRIES: readonly (readonly [string, number])[] = [
  ['US', 40],
  ['DE', 12],
  ['GB', 10],
  ['FR', 7],
  ['NL', 5],
  ['JP', 6],
  ['AU', 4],
  ['BR', 4],
  ['IN', 5],
];
