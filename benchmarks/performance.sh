#!/usr/bin/env bash
# The README's performance section in one run: every command whose results it quotes, one
# after the other, at one commit, on an otherwise idle machine. Each writes its own
# benchmarks/results/NAME.{md,json}, headed by its command, the date and the commit.
#
#     benchmarks/performance.sh              # 90 min to 2 h 40 on 2 cores, by the machine's stretch (2026-11-30)
#     benchmarks/performance.sh --dry-run    # print the commands only
#
# Needs ../shared (corpora/gut8.gz, corpora/dictionary-en.txt.gz, eval/EN-MEN-TR-3k.txt).
# Run it from a checkout nobody edits meanwhile: the subprocesses import w2v from it.
# The order puts what the README's targets rest on first; the rest are the modes.
set -euo pipefail
cd "$(dirname "$0")/.."

GUT8=../shared/corpora/gut8.gz
DICTIONARY=../shared/corpora/dictionary-en.txt.gz
MEN=men=../shared/eval/EN-MEN-TR-3k.txt
OUT=benchmarks/results
DRY=${1:-}

run() {
    echo "== $(date +%H:%M:%S) $*" >&2
    if [ "$DRY" != "--dry-run" ]; then "$@"; fi
}

# Fill numba's on-disk cache for every kernel first, so that no timed run compiles one.
for mode in sg-ns cbow-ns sg-hs cbow-hs; do
    run python -m benchmarks.compare_gensim --corpus data/novels.txt.gz --max-words 30000 \
        --rounds 1 --epochs 1 --quality-rounds 0 --systems numba-shared,numba --mode "$mode"
done

# Skip-gram, the numba backend against gensim: all of gut8, 5 epochs, 2 threads.
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 3 --epochs 5 --threads 2 \
    --systems numba-shared,numba,gensim --pair-set $MEN --out $OUT/gut8_numba
# Every backend and optimizer family on the first 2M words (1 epoch): speed in 5 rounds,
# quality in the first.
run python -m benchmarks.compare_gensim --corpus $GUT8 --max-words 2000000 --rounds 5 \
    --epochs 1 --threads 2 --quality-rounds 1 \
    --systems keras,keras-soft4,keras-adagrad,keras-heun,autodiff,numba-shared,numba,gensim \
    --out $OUT/gut8_speed
# 1 and 2 threads, and corpus size.
run python -m benchmarks.scaling --corpus $GUT8 --words 2000000 --threads 1,2 --rounds 3 \
    --out $OUT/scaling
# A second corpus, never tuned on.
run python -m benchmarks.compare_gensim --corpus $DICTIONARY --rounds 3 --epochs 5 --threads 2 \
    --systems numba-shared,numba,gensim --out $OUT/dictionary_numba
# Private hot rows: two threads with and without them, in each of the machine's two phases.
run python -m benchmarks.private_rows --corpus $GUT8 --words 2000000 --kernels windows,pairs,cbow --rounds 12 \
    --out $OUT/private_rows
# The same, as an upper bound: the ceiling's pairs with each thread's hot rows its own.
run python -m benchmarks.hot_rows --corpus $GUT8 --words 2000000 --rounds 3 --out $OUT/hot_rows
# The ceiling, with every system of gut8_speed placed against it (reads gut8_speed.json).
run python -m benchmarks.roofline --corpus $GUT8 --words 2000000 --repeats 9 --out $OUT/roofline
# Where the keras backend's epoch goes.
run python -m benchmarks.keras_step --corpus $GUT8 --words 2000000 --rounds 3 --out $OUT/keras_step
# The keras backend's quality on all of gut8 (one run each: against gensim's in gut8_numba and
# gut8_cbow-ns; its speed is gut8_speed's, interleaved).
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 1 --epochs 5 --threads 2 \
    --systems keras --pair-set $MEN --out $OUT/gut8_keras_sg-ns
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 1 --epochs 5 --threads 2 \
    --mode cbow-ns --alpha 0.05 --systems keras --pair-set $MEN --out $OUT/gut8_keras_cbow-ns
# The keras backend's other modes under XLA, on the slice.
run python -m benchmarks.compare_gensim --corpus $GUT8 --max-words 2000000 --rounds 3 --epochs 1 \
    --threads 2 --quality-rounds 0 --mode cbow-ns --alpha 0.05 --systems keras,numba-shared,gensim \
    --out $OUT/gut8_speed_cbow-ns
run python -m benchmarks.compare_gensim --corpus $GUT8 --max-words 2000000 --rounds 3 --epochs 1 \
    --threads 2 --quality-rounds 0 --mode sg-hs --systems keras,numba-shared,gensim \
    --out $OUT/gut8_speed_sg-hs
# CBOW and hierarchical softmax, the numba backend against gensim: all of gut8, 5 epochs.
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 3 --epochs 5 --threads 2 \
    --mode cbow-ns --alpha 0.05 --systems numba-shared,gensim --pair-set $MEN --out $OUT/gut8_cbow-ns
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 3 --epochs 5 --threads 2 \
    --mode cbow-hs --alpha 0.05 --systems numba-shared,gensim --pair-set $MEN --out $OUT/gut8_cbow-hs
run python -m benchmarks.compare_gensim --corpus $GUT8 --rounds 3 --epochs 5 --threads 2 \
    --mode sg-hs --systems numba-shared,gensim --pair-set $MEN --out $OUT/gut8_sg-hs
# Peak memory follows the vocabulary, not the text (the README's Reliability section).
run python -m benchmarks.memory --corpus $GUT8 --big-bytes 0 --out $OUT/memory_same_vocab
echo "== $(date +%H:%M:%S) done" >&2
