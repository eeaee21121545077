/**
 * Debian tools some tests check output with (ffmpeg's own MP3 reader and decoder, say), installed
 * with apt-get when missing, as the e2e suites install chromium, Postgres and Redis: CI starts
 * from a machine with Node and npm only. Needs root (or password-less sudo).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** Installs Debian package `pkg` unless `binary` exists; returns the binary's path. */
export function ensureDebianTool(binary: string, pkg: string): string {
	if (fs.existsSync(binary)) return binary;
	process.stderr.write(`${binary} is missing: installing Debian's ${pkg} with apt-get (once per machine)\n`);
	const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const apt = (...args: string[]) =>
		execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length > 0 ? ['apt-get'] : []), '-o', 'DPkg::Lock::Timeout=600', ...args], {
			stdio: ['ignore', 'ignore', 'inherit'],
			env,
		});
	apt('update');
	apt('install', '-y', '--no-install-recommends', pkg);
	if (!fs.existsSync(binary)) throw new Error(`apt-get installed ${pkg} but ${binary} does not exist`);
	return binary;
}
