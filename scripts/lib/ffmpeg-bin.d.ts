export declare function resolveFfmpeg(): { ffmpeg: string; ffprobe: string; source: 'FFMPEG_BIN' | 'ffmpeg-static' | 'system' }
