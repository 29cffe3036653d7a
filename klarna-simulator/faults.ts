import type { FaultRule, SimStore } from './state/store.js';

/** `*` matches within one path segment, `**` across segments; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The first active fault rule for a request, matched on its path (`/payments/v1/sessions/abc`)
 * or its route pattern (`/payments/v1/sessions/:sessionId`); consumes one use of it.
 */
export function takeFault(store: SimStore, method: string, path: string, route: string | undefined, phase: FaultRule['phase']): FaultRule | undefined {
  for (const rule of store.faults) {
    if (rule.phase !== phase) continue;
    if (rule.remaining !== null && rule.remaining <= 0) continue;
    if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
    const re = globToRegExp(rule.path);
    if (!re.test(path) && !(route && re.test(route))) continue;
    if (rule.rate !== undefined) {
      rule.seen++;
      if (Math.floor(rule.seen * rule.rate) === Math.floor((rule.seen - 1) * rule.rate)) continue;
    }
    if (rule.remaining !== null) rule.remaining--;
    rule.matched++;
    return rule;
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
