import type { INodePropertyOptions } from 'n8n-workflow';

/** The Faseeh hosts offered in the credential (../shared/faseeh-api.md 1.2), plus a custom URL. */
export const BASE_URL_CHOICES: INodePropertyOptions[] = [
	{ name: 'Faseeh (Global) · https://api.faseeh.ai/api/v1', value: 'https://api.faseeh.ai/api/v1' },
	{ name: 'Faseeh UAE Data Residency · https://ae.api.faseeh.ai/api/v1', value: 'https://ae.api.faseeh.ai/api/v1' },
	{ name: 'Munsit (Same API, Munsit Brand) · https://api.munsit.com/api/v1', value: 'https://api.munsit.com/api/v1' },
	{ name: 'Custom URL', value: 'custom' },
];

export const DEFAULT_BASE_URL = 'https://api.faseeh.ai/api/v1';

/**
 * The base URL a credential points at. `baseUrl` is one of the choices, or `custom` (then
 * `customBaseUrl`), or, in credentials saved before the choices existed, any URL typed into what
 * was then a text field: that value is used as it is.
 */
export function credentialBaseUrl(credentials: { baseUrl?: unknown; customBaseUrl?: unknown }): string {
	const choice = String(credentials.baseUrl ?? '').trim();
	const raw = choice === 'custom' ? String(credentials.customBaseUrl ?? '').trim() : choice;
	return (raw || (choice === 'custom' ? '' : DEFAULT_BASE_URL)).replace(/\/+$/, '');
}

/** Why a URL may not carry the key, or undefined when it may: https, or plain http to loopback only. */
export function insecureUrlReason(raw: string): string | undefined {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return `is not a valid URL: "${raw}"`;
	}
	if (url.protocol === 'https:') return undefined;
	if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
	return `must use https: "${raw}"`;
}

export function isLoopbackHost(hostname: string): boolean {
	const host = hostname.replace(/^\[|\]$/g, '');
	return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The credential's concurrent-request limit: a plan's, a custom number, or undefined (not known). */
export function credentialPlanLimit(credentials: { plan?: unknown; maxConcurrentRequests?: unknown }): number | undefined {
	const plan = String(credentials.plan ?? 'unknown');
	if (plan in PLAN_LIMITS) return PLAN_LIMITS[plan];
	if (plan !== 'custom') return undefined;
	const value = Number(credentials.maxConcurrentRequests);
	return Number.isInteger(value) && value >= 1 ? value : undefined;
}

export const PLAN_LIMITS: Record<string, number> = { basic: 2, starter: 5, growth: 10 };

export const PLAN_CHOICES: INodePropertyOptions[] = [
	{
		name: 'Not Set (Learn From 429 Answers)',
		value: 'unknown',
		description: 'Starts at 10 requests at once and lowers the limit when Faseeh answers 429',
	},
	{ name: 'Basic (2 Concurrent Requests)', value: 'basic' },
	{ name: 'Starter (5 Concurrent Requests)', value: 'starter' },
	{ name: 'Growth (10 Concurrent Requests)', value: 'growth' },
	{ name: 'Custom Number', value: 'custom' },
];
