/** The parts of webvtt-parser 2.2.0 (parser.js, CC0) the tests use: it ships no types. */
declare module 'webvtt-parser' {
	export interface VttNode {
		type: string;
		name?: string;
		value?: string;
		classes?: string[];
		children: VttNode[];
	}
	export interface VttCue {
		id: string;
		startTime: number;
		endTime: number;
		text: string;
		tree: VttNode;
	}
	export interface VttError {
		message: string;
		line: number;
		col: number;
	}
	export class WebVTTParser {
		parse(input: string, mode?: 'metadata' | 'chapters' | 'subtitles/captions'): { cues: VttCue[]; errors: VttError[]; time: number };
	}
}
