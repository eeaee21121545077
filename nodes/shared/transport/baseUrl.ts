import type { INodePropertyOptions } from 'n8n-workflow';

export const MUNSIT_BASE_URL = 'https://api.munsit.com/api/v1';
export const FASEEH_GLOBAL_BASE_URL = 'https://api.faseeh.ai/api/v1';
export const FASEEH_UAE_BASE_URL = 'https://ae.api.faseeh.ai/api/v1';

/**
 * The hosts offered in the credential (../shared/faseeh-api.md 1.2 and 9), plus a custom URL.
 * Munsit comes first: it is the merged product's host and the only one known to serve
 * speech-to-text, so it is the one to choose for a new credential.
 */
export const BASE_URL_CHOICES: INodePropertyOptions[] = [
	{
		name: 'Munsit · https://api.munsit.com/api/v1 (Recommended)',
		value: MUNSIT_BASE_URL,
		description: 'Speech, voice cloning and speech-to-text (Audio → Transcribe) with one key',
	},
	{
		name: 'Faseeh (Global) · https://api.faseeh.ai/api/v1',
		value: FASEEH_GLOBAL_BASE_URL,
		description: 'Speech and voice cloning; speech-to-text is not known to be served here',
	},
	{
		name: 'Faseeh UAE Data Residency · https://ae.api.faseeh.ai/api/v1',
		value: FASEEH_UAE_BASE_URL,
		description: 'For keys from the UAE dashboard, which work only here. Speech-to-text is not known to be served here.',
	},
	{ name: 'Custom URL', value: 'custom' },
];

/**
 * What a credential without a saved Base URL uses, and so the field's default. It stays the Faseeh
 * (Global) host although Munsit is the recommended choice: n8n's editor saves a credential field
 * only when it differs from the field's default (1.x and 2.x: `getNodeParameters(…, returnDefaults
 * = false)` before the save), so every credential saved with the host left at its default holds no
 * Base URL at all, and changing the default would silently move all of them to another host.
 */
export const DEFAULT_BASE_URL = FASEEH_GLOBAL_BASE_URL;

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
