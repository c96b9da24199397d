#!/usr/bin/env bash
# The AttnGAN programs end to end on a tiny synthetic-birds dataset:
#   1. a run killed with SIGKILL mid-training and resumed with --resume gives
#      the same losses, step for step, as an uninterrupted run (CPU, fixed
#      seed), and its checkpoint is never half-written;
#   2. bad input (empty or unknown-word sentences, missing / truncated /
#      foreign checkpoints, a data folder in the wrong layout, an output folder
#      that cannot be created) ends with a message and a non-zero status, and
#      writes nothing;
#   3. 06_generate's mode for the original's .pth files refuses files of
#      another configuration (naming the keys), files that would run code,
#      and missing files, writing nothing (bird-size weights are not
#      available here: the success path was checked by hand, see the README);
#   4. 07_evaluate --real reads the real test birds' part colours back, and
#      --part-swaps reports the encoders' per-part preference.
# usage: test_programs.sh <folder with the example programs> <scratch folder> <tests source folder>
set -uo pipefail
BIN="$1"
WORK="$2"
TESTS_SRC="$3"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
export OMP_NUM_THREADS=2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# expect_error <name> <text the message must contain> <command...>
expect_error() {
  local name="$1" text="$2"
  shift 2
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if ((rc == 0)); then fail "$name: exit status 0"; return; fi
  if [[ "$out" != *"$text"* ]]; then fail "$name: message lacks '$text': $out"; return; fi
  pass "$name (status $rc): $(echo "$out" | tail -1)"
}

"$BIN/03_make_synthetic_birds" --out birds --classes 4 --images-per-class 8 --size 64 --test-classes 1 >/dev/null ||
  { echo "FAIL: making the dataset"; exit 1; }
"$BIN/04_pretrain_damsm" --data birds --out damsm.safetensors --epochs 1 --batch 8 >/dev/null 2>&1 ||
  { echo "FAIL: DAMSM pretraining"; exit 1; }

# --- 1. kill -9 and resume ----------------------------------------------------
# 24 training images, batch 4: 6 steps per epoch; checkpoints at steps 3, 6, 9.
# The program is started directly (not through a shell function), so $! is its
# own pid and SIGKILL reaches the training process itself.
TRAIN=("$BIN/05_train_attngan" --data birds --damsm damsm.safetensors --batch 4 --steps 9 --save-every 3
       --sample-every 100)
"${TRAIN[@]}" --out whole >/dev/null 2>&1 || { echo "FAIL: the uninterrupted run"; exit 1; }
"${TRAIN[@]}" --out killed >/dev/null 2>&1 &
pid=$!
# Kill once step 4 is logged: the last checkpoint is then step 3 (mid-epoch).
for _ in $(seq 1 600); do
  [[ -f killed/metrics.jsonl ]] && (($(wc -l <killed/metrics.jsonl) >= 4)) && break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
kill -0 "$pid" 2>/dev/null && fail "the training process survived SIGKILL"
logged=$(wc -l <killed/metrics.jsonl)
if ((logged >= 9)); then fail "the run finished before it could be killed"; fi
"${TRAIN[@]}" --out killed --resume >resume.log 2>&1 || { fail "resume: $(tail -3 resume.log)"; }
if grep -q "resuming from" resume.log; then pass "resumed after SIGKILL at step $logged: $(grep resuming resume.log)"
else fail "the resumed run did not start from the checkpoint: $(tail -2 resume.log)"; fi
strip() { sed 's/"seconds":[^,}]*,\{0,1\}//' "$1"; }
if [[ "$(strip whole/metrics.jsonl)" == "$(strip killed/metrics.jsonl)" ]]; then
  pass "losses of all 9 steps equal the uninterrupted run's"
else
  fail "losses differ after resume:"; diff <(strip whole/metrics.jsonl) <(strip killed/metrics.jsonl) | head -6
fi
ls killed/*.tmp* >/dev/null 2>&1 && fail "temporary files left in killed/: $(ls killed)"

# --- 2. bad input --------------------------------------------------------------
CKPT=whole/checkpoint.safetensors
mkdir -p out_empty
expect_error "empty sentence" "sentence 1 is empty" "$BIN/06_generate" --checkpoint "$CKPT" --sentence " " --out out_empty
expect_error "only unknown words" "has no word the model knows" "$BIN/06_generate" --checkpoint "$CKPT" \
  --sentence "zebra quantum" --out out_empty
[[ -z "$(ls -A out_empty)" ]] && pass "nothing written for bad sentences" || fail "files written: $(ls out_empty)"
expect_error "missing checkpoint" "nope.safetensors" "$BIN/06_generate" --checkpoint nope.safetensors --sentence "a red bird" --out out_empty
head -c 5000 "$CKPT" >truncated.safetensors
expect_error "truncated checkpoint" "truncated.safetensors" "$BIN/07_evaluate" --data birds --checkpoint truncated.safetensors
expect_error "a DAMSM file as checkpoint" "damsm.safetensors" "$BIN/06_generate" --checkpoint damsm.safetensors --sentence "a red bird" --out out_empty
mkdir -p wrong_layout/images
expect_error "data folder in the wrong layout" "wrong_layout" "$BIN/04_pretrain_damsm" --data wrong_layout --out x.safetensors
expect_error "output folder cannot be created" "cannot create" "$BIN/05_train_attngan" --data birds --damsm damsm.safetensors \
  --out "$CKPT/sub" --steps 1
# Failures after the output folder was made: the folders the run created go again.
expect_error "training on a data folder in the wrong layout" "wrong_layout" "$BIN/05_train_attngan" --data wrong_layout \
  --damsm damsm.safetensors --out fresh_train/run --steps 1
[[ ! -e fresh_train ]] && pass "no folder left by the refused training run" || fail "left behind: $(find fresh_train)"
expect_error "a GAN checkpoint as the DAMSM file" "not an attngan.damsm file" "$BIN/05_train_attngan" --data birds \
  --damsm "$CKPT" --batch 4 --out fresh_damsm --steps 1
[[ ! -e fresh_damsm ]] && pass "no folder left for a refused DAMSM file" || fail "left behind: $(find fresh_damsm)"
mkdir -p kept && touch kept/mine.txt
expect_error "pretraining on a data folder in the wrong layout" "wrong_layout" "$BIN/04_pretrain_damsm" \
  --data wrong_layout --out kept/new/x.safetensors
[[ ! -e kept/new && -f kept/mine.txt ]] && pass "the refused pretraining removed only the folder it made" ||
  fail "kept/: $(find kept)"
expect_error "resume with another DAMSM weight" "resume with the same" "${TRAIN[@]}" --out whole --resume --lambda 7
expect_error "resume without the random flip" "--no-flip" "${TRAIN[@]}" --out whole --resume --no-flip
expect_error "resume with the centre crop" "--centre-crop" "${TRAIN[@]}" --out whole --resume --centre-crop
expect_error "resume with another average decay" "--ema-decay" "${TRAIN[@]}" --out whole --resume --ema-decay 0.99
expect_error "an average decay of 1" "--ema-decay" "${TRAIN[@]}" --out ema_bad --ema-decay 1
[[ ! -e ema_bad ]] && pass "nothing written for a refused average decay" || fail "ema_bad was created"
expect_error "a negative learning rate" "--lr-g" "${TRAIN[@]}" --out lr_bad --lr-g -1
[[ ! -e lr_bad ]] && pass "nothing written for a refused learning rate" || fail "lr_bad was created"
expect_error "--inception file missing" "nope_inception.pth" "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" \
  --inception nope_inception.pth
expect_error "more Inception Score splits than scored images" "exceeds the 8 scored images" \
  "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --inception damsm.safetensors --json inc.json
expect_error "--inception weights of another network, keys named" "Mixed_7c.branch_pool.conv.weight" \
  "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --inception damsm.safetensors --inception-splits 2 --json inc.json
[[ ! -e inc.json ]] && pass "no scores written for refused Inception weights" || fail "inc.json was written"
# The image trunk's head start reads the synthetic birds' part colours.
# The demo's: from the pooled vector and the local grid (--attribute-head both),
# which the file's metadata records.
if "$BIN/04_pretrain_damsm" --data birds --out damsm_attr.safetensors --epochs 1 --batch 8 --attribute-pretrain 1 \
     --attribute-head both --freeze-trunk --no-flip >attr.log 2>&1 && grep -q "head start done" attr.log &&
   grep -q "from the pooled vector and the local grid" attr.log && [[ -s damsm_attr.safetensors ]] &&
   head -c 65536 damsm_attr.safetensors | grep -a -q -F 'attribute_head\":\"both'; then
  pass "DAMSM with --attribute-pretrain 1 --attribute-head both --freeze-trunk --no-flip: $(grep -o 'parts right [0-9.]* %' attr.log | tail -1)"
else
  fail "DAMSM with --attribute-pretrain: $(tail -3 attr.log)"
fi
expect_error "--attribute-head of another name" "--attribute-head" \
  "$BIN/04_pretrain_damsm" --data birds --out attr_bad.safetensors --epochs 1 --attribute-pretrain 1 --attribute-head middle
cp -r birds birds_plain && rm birds_plain/synthetic_birds.txt
expect_error "--attribute-pretrain without part colours" "--attribute-pretrain needs" \
  "$BIN/04_pretrain_damsm" --data birds_plain --out attr_bad.safetensors --epochs 1 --batch 8 --attribute-pretrain 1
[[ ! -e attr_bad.safetensors ]] && pass "nothing written without part colours" || fail "attr_bad.safetensors was written"
expect_error "missing option" "--checkpoint is required" "$BIN/06_generate" --sentence "a red bird"
[[ ! -e x.safetensors ]] && pass "no file from the failed pretraining" || fail "x.safetensors was written"

# The generator itself: stage images and the attention page.
"$BIN/06_generate" --checkpoint "$CKPT" --sentence "a red bird with blue wings" --sentence "a yellow bird" --out gen >/dev/null 2>&1 &&
  [[ -f gen/001_stage1.png && -f gen/001_stage2.png && -f gen/002_stage2.png && -f gen/generated.html ]] &&
  pass "generate wrote every stage and the attention page" || fail "generate: $(ls gen 2>&1)"
[[ -f whole/report.html ]] && grep -q "<svg" whole/report.html && pass "training wrote report.html with loss curves" ||
  fail "no report.html with curves"
# --sample-average: the sheets come from the running average of G. With a
# decay of 0 the average is the raw G itself, so the sheet must equal the raw
# run's; with 0.5 it lags the raw G and must differ.
"${TRAIN[@]}" --out avg0 --ema-decay 0 --sample-average >/dev/null 2>&1 &&
  "${TRAIN[@]}" --out avg5 --ema-decay 0.5 --sample-average >/dev/null 2>&1 ||
  fail "training with --sample-average failed"
if cmp -s avg0/samples/step_000009.png whole/samples/step_000009.png; then
  pass "--sample-average with decay 0 draws the raw G's sheet"
else
  fail "--sample-average with decay 0 differs from the raw G's sheet"
fi
if ! cmp -s avg5/samples/step_000009.png whole/samples/step_000009.png &&
   grep -q "running average of G, decay 0.5" avg5/report.html; then
  pass "--sample-average with decay 0.5 draws the average, and the report says so"
else
  fail "--sample-average with decay 0.5: same sheet as the raw G, or the report does not name the average"
fi

# --- 3. the original's .pth files -----------------------------------------------
PTH=("$BIN/06_generate" --sentence "a red bird" --out out_pth)
GOLD_IO="$TESTS_SRC/io/golden"
expect_error "--pth-generator without its text encoder" "requires" "${PTH[@]}" --pth-generator x.pth
expect_error "--checkpoint and --pth-generator together" "excludes" "${PTH[@]}" --checkpoint "$CKPT" \
  --pth-generator x.pth --pth-text-encoder y.pth --captions-pickle z.pickle
expect_error "missing .pth" "nope_text.pth" "${PTH[@]}" --pth-generator nope.pth --pth-text-encoder nope_text.pth \
  --captions-pickle z.pickle
expect_error "a .pth of another configuration, keys named" "encoder.weight" "${PTH[@]}" \
  --pth-generator "$GOLD_IO/pth_g_legacy.pth" --pth-text-encoder "$GOLD_IO/pth_text_encoder_zip.pth" \
  --captions-pickle z.pickle
expect_error "a .pth whose pickle calls os.system" "is not allowed" "${PTH[@]}" \
  --pth-generator "$GOLD_IO/pth_g_legacy.pth" --pth-text-encoder "$GOLD_IO/pth_evil_zip.pth" --captions-pickle z.pickle
[[ ! -e out_pth ]] && pass "nothing written for refused .pth files" || fail "files written: $(ls out_pth)"

# Evaluation on the real test images (--real): the part colours the
# evaluation reads back from real birds must be nearly all right, or the
# generated birds' score means nothing.
# With --part-swaps it also reports, per part, how often DAMSM prefers the
# true caption to a one-colour change of it, printed and in the JSON.
if "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --real --candidates 5 --part-swaps --json real.json \
  >real.log 2>&1; then
  acc=$(sed -n 's/^part-colour accuracy over [0-9]* images: mean \([0-9.]*\) %.*/\1/p' real.log)
  if [[ -n "$acc" ]] && awk -v a="$acc" 'BEGIN { exit !(a >= 90) }'; then
    pass "07_evaluate --real reads back the real birds' part colours: $acc %"
  else fail "07_evaluate --real: part-colour accuracy of real birds '$acc' %: $(tail -3 real.log)"; fi
  swap=$(sed -n 's/^DAMSM prefers the true caption to a one-colour change of it: mean \([0-9.]*\) %.*/\1/p' real.log)
  swap_parts=$(grep -cE '^  [a-z]+ +[0-9.]+ % of [1-9][0-9]* swaps$' real.log)
  if [[ -n "$swap" ]] && awk -v a="$swap" 'BEGIN { exit !(a >= 0 && a <= 100) }' && ((swap_parts >= 3)) &&
    grep -q '"part_swaps"' real.json && grep -q '"preferred"' real.json; then
    pass "07_evaluate --part-swaps: mean $swap % over $swap_parts parts, in the JSON too"
  else fail "07_evaluate --part-swaps: mean '$swap', $swap_parts part lines: $(tail -9 real.log)"; fi
else fail "07_evaluate --real: $(tail -2 real.log)"; fi

expect_error "--readings into a file" "cannot create" "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" \
  --readings "$CKPT/sub"
# --readings: the reader's view of every scored image, and a table whose
# named/read pairs must give the very per-part accuracies 07 prints.
if "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --candidates 5 --readings readings >readings.log 2>&1; then
  images=$(ls readings/*.png 2>/dev/null | wc -l)
  rows=$(($(wc -l <readings/readings.tsv) - 1))
  width=$(od -An -tu1 -j16 -N4 readings/000.png | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
  from_table=$(awk -F'\t' 'NR == 1 { for (c = 8; c <= NF; ++c) { name[c] = $c; sub(/ .*/, "", name[c]) } next }
    { for (c = 8; c <= NF; ++c) { split($c, nr, "/"); if (nr[1] != "-") { n[c]++; r[c] += (nr[1] == nr[2]) } } }
    END { for (c = 8; c <= 14; ++c) printf "%s %.1f %d\n", name[c], n[c] ? 100 * r[c] / n[c] : 0, n[c] }' readings/readings.tsv)
  from_log=$(sed -n 's/^  \([a-z]*\) *\([0-9.]*\) % of \([0-9]*\).*/\1 \2 \3/p' readings.log)
  if ((images == 8 && rows == 8 && width == 256)) && [[ -n "$from_log" && "$from_table" == "$from_log" ]]; then
    pass "07_evaluate --readings: 8 images at 256 px, and the table gives the printed accuracies"
  else
    fail "07_evaluate --readings: $images images, $rows rows, width $width; table: $(echo $from_table) / printed: $(echo $from_log)"
  fi
else fail "07_evaluate --readings: $(tail -2 readings.log)"; fi

# --captions-per-image: more captions of each test image, each with its own
# image; an image's first caption is the one scored without the option.
expect_error "--captions-per-image above the captions there are" "exceeds the 10 captions" \
  "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --captions-per-image 11
if "$BIN/07_evaluate" --data birds --checkpoint "$CKPT" --candidates 5 --captions-per-image 3 --readings readings3 \
  --json cpi.json >cpi.log 2>&1; then
  rows=$(($(wc -l <readings3/readings.tsv) - 1))
  first=$(awk -F'\t' 'NR > 1 && (NR - 2) % 3 == 0 { print $2 }' readings3/readings.tsv)
  single=$(awk -F'\t' 'NR > 1 { print $2 }' readings/readings.tsv)
  scored=$(sed -n 's/^  "scored_images": \([0-9]*\),*$/\1/p' cpi.json)
  if ((rows == 24)) && [[ "$scored" == 24 && -n "$single" && "$first" == "$single" ]]; then
    pass "07_evaluate --captions-per-image 3: 24 images, each test image's first caption the one scored without"
  else
    fail "07_evaluate --captions-per-image 3: $rows rows, scored '$scored', first captions match: $([[ "$first" == "$single" ]] && echo yes || echo no)"
  fi
else fail "07_evaluate --captions-per-image 3: $(tail -2 cpi.log)"; fi

if ((failures > 0)); then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
