// Klarna's v1 API hosts per region and environment (klarna-api-facts §5).
export const KlarnaRegion = ['eu', 'na', 'oc'] as const;
export const KlarnaEnvironment = ['playground', 'production'] as const;
export type KlarnaRegion = (typeof KlarnaRegion)[number];
export type KlarnaEnvironment = (typeof KlarnaEnvironment)[number];

const hosts: Record<KlarnaRegion, string> = { eu: 'api', na: 'api-na', oc: 'api-oc' };

export function klarnaBaseUrl(region: KlarnaRegion, environment: KlarnaEnvironment): string {
  const playground = environment === 'playground' ? '.playground' : '';
  return `https://${hosts[region]}${playground}.klarna.com`;
}
