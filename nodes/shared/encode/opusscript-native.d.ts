/**
 * opusscript's Emscripten build of libopus (the package ships it; its own wrapper, index.js, is not
 * used: see opusNative.ts). Calling the factory instantiates the module; its shape is typed there.
 */
declare module 'opusscript/build/opusscript_native_wasm.js' {
	const createOpusModule: () => unknown;
	export default createOpusModule;
}
