export declare const NATIVE_FLOOR_SOURCE: string
export declare function buildNativeFloor(outDir: string): string
