/**
 * File Name → the output file's name (issue 22.5): only a known audio extension is replaced, so a
 * date or version in the name survives (`episode-2026.12.07` became `episode-2026.12.mp3`).
 */
import { withAudioExtension, withoutAudioExtension } from '../../nodes/shared/speech/output';

describe('withAudioExtension', () => {
	it.each([
		['episode-2026.12.07', 'mp3', 'episode-2026.12.07.mp3'],
		['report.final', 'mp3', 'report.final.mp3'],
		['a.tar.gz', 'ogg', 'a.tar.gz.ogg'],
		['v1.2', 'wav', 'v1.2.wav'],
		['voice.WAV', 'mp3', 'voice.mp3'],
		['voice.Mp3', 'wav', 'voice.wav'],
		['greeting.wav', 'mp3', 'greeting.mp3'],
		['greeting.mp3', 'mp3', 'greeting.mp3'],
		['note.opus', 'ogg', 'note.ogg'],
		['clip.m4a', 'wav', 'clip.wav'],
		['raw.pcm', 'mp3', 'raw.mp3'],
		['greeting', 'mp3', 'greeting.mp3'],
		['greeting.', 'mp3', 'greeting.mp3'],
		['greeting...', 'mp3', 'greeting.mp3'],
		['greeting.wav.', 'mp3', 'greeting.mp3'],
		['x.wav.bak', 'mp3', 'x.wav.bak.mp3'],
		['نشرة 7.12.wav', 'mp3', 'نشرة 7.12.mp3'],
		['.wav', 'mp3', 'audio.mp3'],
		['.', 'mp3', 'audio.mp3'],
	])('%j as %s → %j', (name, extension, expected) => {
		expect(withAudioExtension(name, extension)).toBe(expected);
	});

	it('the preview names its file after the recording without its audio extension only', () => {
		expect(withoutAudioExtension('speaker.2026.12.07.wav')).toBe('speaker.2026.12.07');
		expect(withoutAudioExtension('speaker.final')).toBe('speaker.final');
	});
});
