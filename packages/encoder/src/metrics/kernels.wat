;; SIMD128 plane kernels: FFmpeg's SSIM sums (libavfilter/vf_ssim.c, 8-bit) and sums of squared
;; differences, computed exactly as the JavaScript kernels in plane.ts do (same integer sums, same
;; float32 window formula, same order of the double additions), four 4x4 blocks or four 8x8
;; windows at a time. Written by hand; assembled at build time by scripts/assemble-wasm.js (wabt)
;; into dist/metrics/kernels.wasm. wasm-kernels.ts loads it, lays the planes out in `memory` and
;; checks every argument: these functions trust theirs.
;;
;; Limits (checked by the caller): planes up to 32768 pixels wide, so that a row's per-lane sums of
;; squared differences stay below 2^31. Loads may read up to 64 bytes past a plane's last byte (the
;; caller leaves that much room); such bytes are masked out or only reach discarded lanes.
(module
  (memory (export "memory") 1)

  ;; ssimPlane's second result: the sum of squared differences over the pixels inside whole 4x4
  ;; blocks (ss - 2*s12 per block), as a double (exact: it is an integer below 2^53).
  (global $blockSse (export "blockSse") (mut f64) (f64.const 0))

  ;; SSIM of one plane pair: returns the sum over all 8x8 windows of their SSIM, and leaves the
  ;; blocks' sum of squared differences in $blockSse.
  ;;
  ;; $ra/$da: the first pixel of the reference/distorted plane; $rs/$ds: their linesizes;
  ;; $width x $height: at least 8x8; $sums: scratch of 2 * 64 * (((width >> 2) + 3 >> 2) + 1) bytes.
  ;;
  ;; Pass 1, per row of 4x4 blocks: 16 pixels (4 blocks) of 4 rows at a time give the blocks'
  ;; s1 = sum a, s2 = sum b, ss = sum a^2 + b^2, s12 = sum ab as i32x4 (one lane per block). They are
  ;; stored per group of 4 blocks as 4 vectors (64 bytes: s1, s2, ss, s12); block rows alternate
  ;; between two such rows in $sums. The last group is masked to the blocks that exist (bytes past
  ;; 4 * (width >> 2) count as zero).
  ;; Pass 2, per block row from the second on: windows 4g..4g+3 from groups g and g+1 of this row
  ;; and the one above (vertical sums, then each plus its right neighbour), the integer part of
  ;; FFmpeg's ssim_end1 in i32x4, its float part in f32x4, then the four results added one by one
  ;; to the row's double sum, as the scalar code does; lanes past the row's last window are dropped.
  (func $ssimPlane (export "ssimPlane")
    (param $ra i32) (param $rs i32) (param $da i32) (param $ds i32)
    (param $width i32) (param $height i32) (param $sums i32)
    (result f64)
    (local $bw i32) (local $bh i32) (local $groups i32) (local $rowBytes i32)
    (local $by i32) (local $g i32) (local $cur i32) (local $prev i32)
    (local $pa i32) (local $pd i32) (local $qa i32) (local $qd i32) (local $out i32)
    (local $mask v128) (local $lastMask v128)
    (local $a v128) (local $b v128) (local $alo v128) (local $ahi v128) (local $blo v128) (local $bhi v128)
    (local $s1 v128) (local $s2 v128) (local $ssl v128) (local $ssh v128) (local $xl v128) (local $xh v128)
    (local $ss v128) (local $x v128) (local $sseAcc v128)
    (local $sse i64) (local $windowSum f64) (local $rowSum f64)
    (local $left i32) (local $c i32) (local $p i32)
    (local $v1 v128) (local $v2 v128) (local $vss v128) (local $v12 v128)
    (local $n1 v128) (local $n2 v128) (local $nss v128) (local $n12 v128)
    (local $f1 v128) (local $f2 v128) (local $fss v128) (local $f12 v128)
    (local $m12 v128) (local $sq v128) (local $r v128)

    (local.set $bw (i32.shr_u (local.get $width) (i32.const 2)))
    (local.set $bh (i32.shr_u (local.get $height) (i32.const 2)))
    (local.set $groups (i32.shr_u (i32.add (local.get $bw) (i32.const 3)) (i32.const 2)))
    ;; One spare group per row: pass 2 reads group g + 1 for the last g.
    (local.set $rowBytes (i32.shl (i32.add (local.get $groups) (i32.const 1)) (i32.const 6)))
    ;; Bytes of the last group that belong to whole blocks: 4 * (1..4 blocks).
    (local.set $lastMask
      (i8x16.lt_u
        (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
        (i8x16.splat
          (i32.shl
            (i32.add (i32.and (i32.sub (local.get $bw) (i32.const 1)) (i32.const 3)) (i32.const 1))
            (i32.const 2)))))

    (local.set $by (i32.const 0))
    (loop $blockRows
      (local.set $cur (i32.add (local.get $sums)
        (i32.mul (i32.and (local.get $by) (i32.const 1)) (local.get $rowBytes))))
      (local.set $prev (i32.add (local.get $sums)
        (i32.mul (i32.xor (i32.and (local.get $by) (i32.const 1)) (i32.const 1)) (local.get $rowBytes))))
      (local.set $pa (i32.add (local.get $ra) (i32.mul (i32.shl (local.get $by) (i32.const 2)) (local.get $rs))))
      (local.set $pd (i32.add (local.get $da) (i32.mul (i32.shl (local.get $by) (i32.const 2)) (local.get $ds))))
      (local.set $out (local.get $cur))
      (local.set $sseAcc (v128.const i32x4 0 0 0 0))
      (local.set $g (i32.const 0))

      ;; ---- pass 1: block sums, a group of 4 blocks per iteration
      (loop $blockGroups
        (local.set $mask
          (select (local.get $lastMask) (v128.const i32x4 -1 -1 -1 -1)
            (i32.eq (local.get $g) (i32.sub (local.get $groups) (i32.const 1)))))
        (local.set $qa (local.get $pa))
        (local.set $qd (local.get $pd))

        ;; row 0: starts the sums
        (local.set $a (v128.and (v128.load (local.get $qa)) (local.get $mask)))
        (local.set $b (v128.and (v128.load (local.get $qd)) (local.get $mask)))
        (local.set $s1 (i16x8.extadd_pairwise_i8x16_u (local.get $a)))
        (local.set $s2 (i16x8.extadd_pairwise_i8x16_u (local.get $b)))
        (local.set $alo (i16x8.extend_low_i8x16_u (local.get $a)))
        (local.set $ahi (i16x8.extend_high_i8x16_u (local.get $a)))
        (local.set $blo (i16x8.extend_low_i8x16_u (local.get $b)))
        (local.set $bhi (i16x8.extend_high_i8x16_u (local.get $b)))
        (local.set $ssl (i32x4.add (i32x4.dot_i16x8_s (local.get $alo) (local.get $alo))
                                   (i32x4.dot_i16x8_s (local.get $blo) (local.get $blo))))
        (local.set $ssh (i32x4.add (i32x4.dot_i16x8_s (local.get $ahi) (local.get $ahi))
                                   (i32x4.dot_i16x8_s (local.get $bhi) (local.get $bhi))))
        (local.set $xl (i32x4.dot_i16x8_s (local.get $alo) (local.get $blo)))
        (local.set $xh (i32x4.dot_i16x8_s (local.get $ahi) (local.get $bhi)))

        ;; row 1
        (local.set $qa (i32.add (local.get $qa) (local.get $rs)))
        (local.set $qd (i32.add (local.get $qd) (local.get $ds)))
        (local.set $a (v128.and (v128.load (local.get $qa)) (local.get $mask)))
        (local.set $b (v128.and (v128.load (local.get $qd)) (local.get $mask)))
        (local.set $s1 (i16x8.add (local.get $s1) (i16x8.extadd_pairwise_i8x16_u (local.get $a))))
        (local.set $s2 (i16x8.add (local.get $s2) (i16x8.extadd_pairwise_i8x16_u (local.get $b))))
        (local.set $alo (i16x8.extend_low_i8x16_u (local.get $a)))
        (local.set $ahi (i16x8.extend_high_i8x16_u (local.get $a)))
        (local.set $blo (i16x8.extend_low_i8x16_u (local.get $b)))
        (local.set $bhi (i16x8.extend_high_i8x16_u (local.get $b)))
        (local.set $ssl (i32x4.add (local.get $ssl)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $alo) (local.get $alo))
                     (i32x4.dot_i16x8_s (local.get $blo) (local.get $blo)))))
        (local.set $ssh (i32x4.add (local.get $ssh)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $ahi) (local.get $ahi))
                     (i32x4.dot_i16x8_s (local.get $bhi) (local.get $bhi)))))
        (local.set $xl (i32x4.add (local.get $xl) (i32x4.dot_i16x8_s (local.get $alo) (local.get $blo))))
        (local.set $xh (i32x4.add (local.get $xh) (i32x4.dot_i16x8_s (local.get $ahi) (local.get $bhi))))

        ;; row 2
        (local.set $qa (i32.add (local.get $qa) (local.get $rs)))
        (local.set $qd (i32.add (local.get $qd) (local.get $ds)))
        (local.set $a (v128.and (v128.load (local.get $qa)) (local.get $mask)))
        (local.set $b (v128.and (v128.load (local.get $qd)) (local.get $mask)))
        (local.set $s1 (i16x8.add (local.get $s1) (i16x8.extadd_pairwise_i8x16_u (local.get $a))))
        (local.set $s2 (i16x8.add (local.get $s2) (i16x8.extadd_pairwise_i8x16_u (local.get $b))))
        (local.set $alo (i16x8.extend_low_i8x16_u (local.get $a)))
        (local.set $ahi (i16x8.extend_high_i8x16_u (local.get $a)))
        (local.set $blo (i16x8.extend_low_i8x16_u (local.get $b)))
        (local.set $bhi (i16x8.extend_high_i8x16_u (local.get $b)))
        (local.set $ssl (i32x4.add (local.get $ssl)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $alo) (local.get $alo))
                     (i32x4.dot_i16x8_s (local.get $blo) (local.get $blo)))))
        (local.set $ssh (i32x4.add (local.get $ssh)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $ahi) (local.get $ahi))
                     (i32x4.dot_i16x8_s (local.get $bhi) (local.get $bhi)))))
        (local.set $xl (i32x4.add (local.get $xl) (i32x4.dot_i16x8_s (local.get $alo) (local.get $blo))))
        (local.set $xh (i32x4.add (local.get $xh) (i32x4.dot_i16x8_s (local.get $ahi) (local.get $bhi))))

        ;; row 3
        (local.set $qa (i32.add (local.get $qa) (local.get $rs)))
        (local.set $qd (i32.add (local.get $qd) (local.get $ds)))
        (local.set $a (v128.and (v128.load (local.get $qa)) (local.get $mask)))
        (local.set $b (v128.and (v128.load (local.get $qd)) (local.get $mask)))
        (local.set $s1 (i16x8.add (local.get $s1) (i16x8.extadd_pairwise_i8x16_u (local.get $a))))
        (local.set $s2 (i16x8.add (local.get $s2) (i16x8.extadd_pairwise_i8x16_u (local.get $b))))
        (local.set $alo (i16x8.extend_low_i8x16_u (local.get $a)))
        (local.set $ahi (i16x8.extend_high_i8x16_u (local.get $a)))
        (local.set $blo (i16x8.extend_low_i8x16_u (local.get $b)))
        (local.set $bhi (i16x8.extend_high_i8x16_u (local.get $b)))
        (local.set $ssl (i32x4.add (local.get $ssl)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $alo) (local.get $alo))
                     (i32x4.dot_i16x8_s (local.get $blo) (local.get $blo)))))
        (local.set $ssh (i32x4.add (local.get $ssh)
          (i32x4.add (i32x4.dot_i16x8_s (local.get $ahi) (local.get $ahi))
                     (i32x4.dot_i16x8_s (local.get $bhi) (local.get $bhi)))))
        (local.set $xl (i32x4.add (local.get $xl) (i32x4.dot_i16x8_s (local.get $alo) (local.get $blo))))
        (local.set $xh (i32x4.add (local.get $xh) (i32x4.dot_i16x8_s (local.get $ahi) (local.get $bhi))))

        ;; Per block: s1, s2 from the pairwise u16 sums; ss, s12 from the dot products, whose
        ;; lanes 2k and 2k+1 hold block k's two column pairs (even lanes plus odd lanes).
        (local.set $ss (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ssl) (local.get $ssh))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ssl) (local.get $ssh))))
        (local.set $x (i32x4.add
          (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $xl) (local.get $xh))
          (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $xl) (local.get $xh))))
        (v128.store offset=0 (local.get $out) (i32x4.extadd_pairwise_i16x8_u (local.get $s1)))
        (v128.store offset=16 (local.get $out) (i32x4.extadd_pairwise_i16x8_u (local.get $s2)))
        (v128.store offset=32 (local.get $out) (local.get $ss))
        (v128.store offset=48 (local.get $out) (local.get $x))
        (local.set $sseAcc (i32x4.add (local.get $sseAcc)
          (i32x4.sub (local.get $ss) (i32x4.shl (local.get $x) (i32.const 1)))))

        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
        (local.set $pd (i32.add (local.get $pd) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br_if $blockGroups (i32.lt_u (local.get $g) (local.get $groups))))

      (local.set $sse (i64.add (local.get $sse)
        (i64.add
          (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $sseAcc)))
                   (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $sseAcc))))
          (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $sseAcc)))
                   (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $sseAcc)))))))

      ;; ---- pass 2: the windows between this block row and the one above
      (if (i32.gt_u (local.get $by) (i32.const 0))
        (then
          (local.set $rowSum (f64.const 0))
          (local.set $left (i32.sub (local.get $bw) (i32.const 1)))
          (local.set $c (local.get $cur))
          (local.set $p (local.get $prev))
          (local.set $v1 (i32x4.add (v128.load offset=0 (local.get $c)) (v128.load offset=0 (local.get $p))))
          (local.set $v2 (i32x4.add (v128.load offset=16 (local.get $c)) (v128.load offset=16 (local.get $p))))
          (local.set $vss (i32x4.add (v128.load offset=32 (local.get $c)) (v128.load offset=32 (local.get $p))))
          (local.set $v12 (i32x4.add (v128.load offset=48 (local.get $c)) (v128.load offset=48 (local.get $p))))
          (loop $windows
            (local.set $n1 (i32x4.add (v128.load offset=64 (local.get $c)) (v128.load offset=64 (local.get $p))))
            (local.set $n2 (i32x4.add (v128.load offset=80 (local.get $c)) (v128.load offset=80 (local.get $p))))
            (local.set $nss (i32x4.add (v128.load offset=96 (local.get $c)) (v128.load offset=96 (local.get $p))))
            (local.set $n12 (i32x4.add (v128.load offset=112 (local.get $c)) (v128.load offset=112 (local.get $p))))
            ;; window i = vertical pair i + vertical pair i + 1
            (local.set $f1 (i32x4.add (local.get $v1)
              (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $v1) (local.get $n1))))
            (local.set $f2 (i32x4.add (local.get $v2)
              (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $v2) (local.get $n2))))
            (local.set $fss (i32x4.add (local.get $vss)
              (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $vss) (local.get $nss))))
            (local.set $f12 (i32x4.add (local.get $v12)
              (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $v12) (local.get $n12))))
            ;; ssim_end1: vars = fss*64 - f1^2 - f2^2, covar = f12*64 - f1*f2 (i32, no overflow for
            ;; 8-bit), then (float)(2*f1*f2 + c1) * (float)(2*covar + c2) over
            ;; (float)(f1^2 + f2^2 + c1) * (float)(vars + c2), each step rounded to float.
            (local.set $m12 (i32x4.mul (local.get $f1) (local.get $f2)))
            (local.set $sq (i32x4.add (i32x4.mul (local.get $f1) (local.get $f1)) (i32x4.mul (local.get $f2) (local.get $f2))))
            (local.set $r
              (f32x4.div
                (f32x4.mul
                  (f32x4.convert_i32x4_s
                    (i32x4.add (i32x4.shl (local.get $m12) (i32.const 1)) (v128.const i32x4 416 416 416 416)))
                  (f32x4.convert_i32x4_s
                    (i32x4.add
                      (i32x4.shl (i32x4.sub (i32x4.shl (local.get $f12) (i32.const 6)) (local.get $m12)) (i32.const 1))
                      (v128.const i32x4 235963 235963 235963 235963))))
                (f32x4.mul
                  (f32x4.convert_i32x4_s
                    (i32x4.add (local.get $sq) (v128.const i32x4 416 416 416 416)))
                  (f32x4.convert_i32x4_s
                    (i32x4.add
                      (i32x4.sub (i32x4.shl (local.get $fss) (i32.const 6)) (local.get $sq))
                      (v128.const i32x4 235963 235963 235963 235963))))))
            ;; In window order, into the row's double sum; only the windows the row has.
            (block $added
              (local.set $rowSum (f64.add (local.get $rowSum) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $r)))))
              (br_if $added (i32.le_s (local.get $left) (i32.const 1)))
              (local.set $rowSum (f64.add (local.get $rowSum) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $r)))))
              (br_if $added (i32.le_s (local.get $left) (i32.const 2)))
              (local.set $rowSum (f64.add (local.get $rowSum) (f64.promote_f32 (f32x4.extract_lane 2 (local.get $r)))))
              (br_if $added (i32.le_s (local.get $left) (i32.const 3)))
              (local.set $rowSum (f64.add (local.get $rowSum) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $r))))))
            (local.set $v1 (local.get $n1))
            (local.set $v2 (local.get $n2))
            (local.set $vss (local.get $nss))
            (local.set $v12 (local.get $n12))
            (local.set $c (i32.add (local.get $c) (i32.const 64)))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (local.set $left (i32.sub (local.get $left) (i32.const 4)))
            (br_if $windows (i32.gt_s (local.get $left) (i32.const 0))))
          (local.set $windowSum (f64.add (local.get $windowSum) (local.get $rowSum)))))

      (local.set $by (i32.add (local.get $by) (i32.const 1)))
      (br_if $blockRows (i32.lt_u (local.get $by) (local.get $bh))))

    (global.set $blockSse (f64.convert_i64_u (local.get $sse)))
    (local.get $windowSum))

  ;; Sum of squared differences over $width x $height pixels from $ra/$da (linesizes $rs/$ds):
  ;; 16 pixels at a time as i16 differences squared and paired by a dot product, the rest of each
  ;; row one by one. Exact: per row below 2^31 (width up to 32768), in total an i64.
  (func $sseRect (export "sseRect")
    (param $ra i32) (param $rs i32) (param $da i32) (param $ds i32)
    (param $width i32) (param $height i32)
    (result f64)
    (local $y i32) (local $x i32) (local $w16 i32) (local $row i32) (local $t i32)
    (local $total i64) (local $acc v128) (local $a v128) (local $b v128) (local $d v128)
    (if (i32.or (i32.le_s (local.get $width) (i32.const 0)) (i32.le_s (local.get $height) (i32.const 0)))
      (then (return (f64.const 0))))
    (local.set $w16 (i32.and (local.get $width) (i32.const -16)))
    (loop $rows
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $x (i32.const 0))
      (block $wideDone
        (br_if $wideDone (i32.ge_u (local.get $x) (local.get $w16)))
        (loop $wide
          (local.set $a (v128.load (i32.add (local.get $ra) (local.get $x))))
          (local.set $b (v128.load (i32.add (local.get $da) (local.get $x))))
          (local.set $d (i16x8.sub (i16x8.extend_low_i8x16_u (local.get $a)) (i16x8.extend_low_i8x16_u (local.get $b))))
          (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (local.get $d) (local.get $d))))
          (local.set $d (i16x8.sub (i16x8.extend_high_i8x16_u (local.get $a)) (i16x8.extend_high_i8x16_u (local.get $b))))
          (local.set $acc (i32x4.add (local.get $acc) (i32x4.dot_i16x8_s (local.get $d) (local.get $d))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (br_if $wide (i32.lt_u (local.get $x) (local.get $w16)))))
      (local.set $row
        (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
          (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
      (block $tailDone
        (br_if $tailDone (i32.ge_u (local.get $x) (local.get $width)))
        (loop $tail
          (local.set $t (i32.sub
            (i32.load8_u (i32.add (local.get $ra) (local.get $x)))
            (i32.load8_u (i32.add (local.get $da) (local.get $x)))))
          (local.set $row (i32.add (local.get $row) (i32.mul (local.get $t) (local.get $t))))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br_if $tail (i32.lt_u (local.get $x) (local.get $width)))))
      (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $row))))
      (local.set $ra (i32.add (local.get $ra) (local.get $rs)))
      (local.set $da (i32.add (local.get $da) (local.get $ds)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $y) (local.get $height))))
    (f64.convert_i64_u (local.get $total))))
