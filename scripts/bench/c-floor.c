/*
 * The native floor under `mqa encode`: (b)'s FFmpeg work in one C process, with nothing of
 * Node.js, beamcoder or mqa. Demux and decode the source (threads auto, as the ffmpeg CLI),
 * libx264 with the options mqa gives it (forced IDRs on the GOP grid), MPEG-TS out, and every
 * packet decoded again by a second, single-threaded decoder, as mqa's own-output decoder is.
 * With --measure, every reconstructed frame is also compared with its source frame by FFmpeg's
 * psnr and ssim filters in the same process (pairs in presentation order, as both decoders give
 * them): what (b)'s work costs when FFmpeg's own code does all of it and nothing else runs.
 *
 * scripts/bench/encoder.js --native builds it with the system's cc and pkg-config and times it
 * beside (a) and (b). By hand:
 *
 *   cc -O2 -o /tmp/c-floor scripts/bench/c-floor.c $(pkg-config --cflags --libs libavformat libavcodec libavfilter libavutil)
 *   /tmp/c-floor <input> <output.ts> <gop-frames> <bframes> <preset> <bitrate b/s> [--measure]
 *
 * Prints one JSON line on stderr: frames encoded, packets, frames decoded again, frames measured
 * and their mean PSNR (average) and SSIM (All).
 */
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIFO_MAX 256

static void die(const char *what, int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = "";
  if (err < 0) av_strerror(err, buf, sizeof buf);
  fprintf(stderr, "c-floor: %s%s%s\n", what, err < 0 ? ": " : "", buf);
  exit(1);
}

static struct {
  AVFormatContext *in, *out;
  AVCodecContext *dec, *enc, *recon;
  AVStream *outStream;
  int videoIndex, gop, measure;
  long frames, packets, decodedAgain, measured;
  double psnrSum, ssimSum;
  /* Source frames waiting for their reconstruction, oldest first. */
  AVFrame *fifo[FIFO_MAX];
  int fifoHead, fifoLen;
  AVFilterGraph *graph;
  AVFilterContext *srcRecon, *srcSource, *sink;
  AVFrame *tmp, *scored;
} s;

static void openMetrics(const AVFrame *f) {
  char desc[1024];
  const char *fmt = av_get_pix_fmt_name(f->format);
  char args[256];
  snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%s:time_base=%d/%d:pixel_aspect=1/1", f->width, f->height, fmt,
           s.enc->time_base.num, s.enc->time_base.den);
  snprintf(desc, sizeof desc,
           "buffer@recon=%s [d]; buffer@source=%s [r]; [r] split [r0][r1]; [d][r0] psnr [p]; [p][r1] ssim, buffersink@out",
           args, args);
  s.graph = avfilter_graph_alloc();
  AVFilterInOut *ins = NULL, *outs = NULL;
  int err = avfilter_graph_parse2(s.graph, desc, &ins, &outs);
  if (err < 0) die("filter graph", err);
  avfilter_inout_free(&ins);
  avfilter_inout_free(&outs);
  if ((err = avfilter_graph_config(s.graph, NULL)) < 0) die("filter graph config", err);
  s.srcRecon = avfilter_graph_get_filter(s.graph, "buffer@recon");
  s.srcSource = avfilter_graph_get_filter(s.graph, "buffer@source");
  s.sink = avfilter_graph_get_filter(s.graph, "buffersink@out");
  s.scored = av_frame_alloc();
}

static double metadataNumber(const AVFrame *f, const char *key) {
  const AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
  if (!e) die(key, 0);
  return strtod(e->value, NULL);
}

static void drainScored(void) {
  for (;;) {
    int err = av_buffersink_get_frame(s.sink, s.scored);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) die("buffersink", err);
    s.psnrSum += metadataNumber(s.scored, "lavfi.psnr.psnr_avg");
    s.ssimSum += metadataNumber(s.scored, "lavfi.ssim.All");
    s.measured++;
    av_frame_unref(s.scored);
  }
}

/* One reconstructed frame: pair it with the oldest source frame and score the pair. */
static void reconstructed(AVFrame *recon) {
  s.decodedAgain++;
  if (!s.measure) return;
  if (s.fifoLen == 0) die("a reconstructed frame with no source frame waiting", 0);
  AVFrame *source = s.fifo[s.fifoHead];
  s.fifoHead = (s.fifoHead + 1) % FIFO_MAX;
  s.fifoLen--;
  if (!s.graph) openMetrics(recon);
  recon->pts = source->pts;
  int err;
  if ((err = av_buffersrc_add_frame(s.srcRecon, recon)) < 0) die("buffersrc (recon)", err);
  if ((err = av_buffersrc_add_frame(s.srcSource, source)) < 0) die("buffersrc (source)", err);
  av_frame_free(&source);
  drainScored();
}

static void decodeAgain(const AVPacket *pkt) {
  int err = avcodec_send_packet(s.recon, pkt);
  if (err < 0 && err != AVERROR_EOF) die("own-output decoder (send)", err);
  for (;;) {
    err = avcodec_receive_frame(s.recon, s.tmp);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) die("own-output decoder", err);
    reconstructed(s.tmp);
    av_frame_unref(s.tmp);
  }
}

static void writePackets(void) {
  AVPacket *pkt = av_packet_alloc();
  for (;;) {
    int err = avcodec_receive_packet(s.enc, pkt);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) break;
    if (err < 0) die("encoder", err);
    s.packets++;
    decodeAgain(pkt);
    av_packet_rescale_ts(pkt, s.enc->time_base, s.outStream->time_base);
    pkt->stream_index = 0;
    if ((err = av_interleaved_write_frame(s.out, pkt)) < 0) die("muxer", err);
  }
  av_packet_free(&pkt);
}

static void openEncoder(const AVFrame *f, const char *preset, long bitrate, int bframes, const char *outPath) {
  AVRational rate = s.in->streams[s.videoIndex]->avg_frame_rate;
  const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
  if (!x264) die("no libx264", 0);
  s.enc = avcodec_alloc_context3(x264);
  s.enc->width = f->width;
  s.enc->height = f->height;
  s.enc->pix_fmt = AV_PIX_FMT_YUV420P;
  s.enc->time_base = av_inv_q(rate);
  s.enc->framerate = rate;
  s.enc->bit_rate = bitrate;
  s.enc->gop_size = s.gop * 100;
  s.enc->max_b_frames = bframes;
  s.enc->thread_count = 0; /* the ffmpeg CLI's "threads auto" */
  char params[128];
  snprintf(params, sizeof params, "scenecut=0:open-gop=0:keyint=%d:bframes=%d", s.gop * 100, bframes);
  av_opt_set(s.enc->priv_data, "preset", preset, 0);
  av_opt_set_int(s.enc->priv_data, "forced-idr", 1, 0);
  av_opt_set(s.enc->priv_data, "x264-params", params, 0);
  int err = avcodec_open2(s.enc, x264, NULL);
  if (err < 0) die("libx264", err);

  const AVCodec *h264 = avcodec_find_decoder(AV_CODEC_ID_H264);
  s.recon = avcodec_alloc_context3(h264);
  s.recon->thread_count = 1;
  if ((err = avcodec_open2(s.recon, h264, NULL)) < 0) die("own-output decoder", err);

  if ((err = avformat_alloc_output_context2(&s.out, NULL, "mpegts", outPath)) < 0) die("muxer", err);
  s.outStream = avformat_new_stream(s.out, NULL);
  avcodec_parameters_from_context(s.outStream->codecpar, s.enc);
  s.outStream->time_base = s.enc->time_base;
  if ((err = avio_open(&s.out->pb, outPath, AVIO_FLAG_WRITE)) < 0) die(outPath, err);
  if ((err = avformat_write_header(s.out, NULL)) < 0) die("muxer header", err);
}

static void encodeFrame(AVFrame *f, const char *preset, long bitrate, int bframes, const char *outPath) {
  if (!s.enc) openEncoder(f, preset, bitrate, bframes, outPath);
  f->pts = s.frames;
  f->pict_type = s.frames % s.gop == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  s.frames++;
  if (s.measure) {
    if (s.fifoLen == FIFO_MAX) die("more than 256 source frames waiting for their reconstruction", 0);
    s.fifo[(s.fifoHead + s.fifoLen++) % FIFO_MAX] = av_frame_clone(f);
  }
  int err = avcodec_send_frame(s.enc, f);
  if (err < 0) die("encoder (send)", err);
  writePackets();
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: c-floor <input> <output.ts> <gop-frames> <bframes> <preset> <bitrate b/s> [--measure]\n");
    return 2;
  }
  const char *input = argv[1], *outPath = argv[2], *preset = argv[5];
  s.gop = atoi(argv[3]);
  int bframes = atoi(argv[4]);
  long bitrate = atol(argv[6]);
  s.measure = argc > 7 && strcmp(argv[7], "--measure") == 0;
  av_log_set_level(AV_LOG_ERROR);

  int err = avformat_open_input(&s.in, input, NULL, NULL);
  if (err < 0) die(input, err);
  if ((err = avformat_find_stream_info(s.in, NULL)) < 0) die("stream info", err);
  s.videoIndex = av_find_best_stream(s.in, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (s.videoIndex < 0) die("no video stream", s.videoIndex);
  AVStream *video = s.in->streams[s.videoIndex];
  const AVCodec *codec = avcodec_find_decoder(video->codecpar->codec_id);
  s.dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(s.dec, video->codecpar);
  s.dec->pkt_timebase = video->time_base;
  s.dec->thread_count = 0; /* the ffmpeg CLI's "threads auto" */
  if ((err = avcodec_open2(s.dec, codec, NULL)) < 0) die("source decoder", err);

  AVPacket *pkt = av_packet_alloc();
  AVFrame *frame = av_frame_alloc();
  s.tmp = av_frame_alloc();
  for (int eof = 0; !eof;) {
    err = av_read_frame(s.in, pkt);
    if (err == AVERROR_EOF) {
      eof = 1;
      avcodec_send_packet(s.dec, NULL);
    } else if (err < 0) {
      die("demuxer", err);
    } else {
      if (pkt->stream_index == s.videoIndex && (err = avcodec_send_packet(s.dec, pkt)) < 0) die("source decoder (send)", err);
      av_packet_unref(pkt);
    }
    while ((err = avcodec_receive_frame(s.dec, frame)) >= 0) {
      encodeFrame(frame, preset, bitrate, bframes, outPath);
      av_frame_unref(frame);
    }
    if (err != AVERROR(EAGAIN) && err != AVERROR_EOF) die("source decoder", err);
  }
  avcodec_send_frame(s.enc, NULL);
  writePackets();
  decodeAgain(NULL);
  if (s.graph) {
    if ((err = av_buffersrc_add_frame(s.srcRecon, NULL)) < 0 || (err = av_buffersrc_add_frame(s.srcSource, NULL)) < 0) die("buffersrc (end)", err);
    drainScored();
  }
  if ((err = av_write_trailer(s.out)) < 0) die("muxer trailer", err);
  avio_closep(&s.out->pb);
  fprintf(stderr, "{\"msg\":\"c-floor done\",\"frames\":%ld,\"packets\":%ld,\"decodedAgain\":%ld,\"measured\":%ld,\"psnr\":%.4f,\"ssim\":%.6f}\n",
          s.frames, s.packets, s.decodedAgain, s.measured, s.measured ? s.psnrSum / s.measured : 0, s.measured ? s.ssimSum / s.measured : 0);
  return 0;
}
