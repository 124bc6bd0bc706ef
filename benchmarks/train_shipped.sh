#!/usr/bin/env bash
# The commands that trained the shipped models, one function each:
#   bash benchmarks/train_shipped.sh shakespeare|shakespeare_cold_start|brown|news_forward|news_backward|news_forward_more|news_backward_more|pos|ner|chunk|pos_fast|ner_fast|chunk_fast|sentiment [DATA_DIR]
#   bash benchmarks/train_shipped.sh ship NAME [RUN]
# Each run writes to runs/NAME; `ship NAME [RUN]` copies the model files (config.json,
# model.safetensors, tokenizer files, metrics.json) of runs/RUN (default runs/NAME) into
# seqtext/pretrained/NAME. The shipped shakespeare is `ship shakespeare shakespeare_cold_start`.
set -euo pipefail
if [ "$1" = ship ]; then DATA=; else DATA=${2:-../shared/data}; fi

ship_model() {
  mkdir -p "seqtext/pretrained/$1"
  rm -f "seqtext/pretrained/$1"/*
  for f in config.json model.safetensors metrics.json vocab.json sentencepiece.model; do
    [ -f "runs/${2:-$1}/$f" ] && cp "runs/${2:-$1}/$f" "seqtext/pretrained/$1/"
  done
  du -sh "seqtext/pretrained/$1"
}

shakespeare() {
  seqtext train lm corpora/shakespeare.txt -o runs/shakespeare --hidden 512 --layers 2 \
    --embedding-dim 128 --dropout 0.25 --batch-size 64 --bptt 128 --epochs 12 --lr 2e-3 \
    --patience 3 --weights-dtype float16 --seed 1
}

shakespeare_cold_start() {
  # The shipped model: the run above, then fine-tuned with fresh-start rows (--fresh-share, on by
  # default) so that it also learns to begin a text from <bos> and a zero state (issue #7).
  seqtext train lm corpora/shakespeare.txt -o runs/shakespeare_cold_start --init-from runs/shakespeare \
    --batch-size 64 --bptt 128 --epochs 3 --lr 1e-3 --warmup-steps 50 --patience 2 \
    --weights-dtype float16 --seed 1
}

brown() {
  seqtext train lm "$DATA/brown/train.txt" --val-file "$DATA/brown/valid.txt" -o runs/brown \
    --tokenizer word --word-split whitespace --min-freq 4 --hidden 256 --embedding-dim 256 --layers 2 \
    --tie-weights --dropout 0.35 --batch-size 32 --bptt 64 --epochs 4 --lr 3e-3 --warmup-steps 200 \
    --weights-dtype float16 --seed 1
}

# The news LMs' data and training options, shared by their first hour and the continuation.
NEWS_LM="--tokenizer char --dropout 0.1 --batch-size 64 --bptt 128 --val-fraction 0.02 --eval-every 1000 --weights-dtype float16 --seed 0"

news_text() {
  # The news text of benchmarks/pretrain_corpus.py (unlabelled/news, Brown, the training sides of the
  # labelled sets; 14.7 MB).
  [ -f runs/news.txt ] || python benchmarks/pretrain_corpus.py news -o runs/news.txt --data-dir "$DATA"
}

news_lm() {
  # Character LMs for the taggers' contextual string embeddings (--pretrained-lm): one layer of 384 so
  # that tagging with two of them stays above 3,000 tokens/s.
  news_text
  OMP_NUM_THREADS=1 seqtext train lm runs/news.txt "$@" --layers 1 --hidden 384 --embedding-dim 64 $NEWS_LM --max-time 3600
}

news_forward() { news_lm -o runs/news-forward; }

news_backward() { news_lm --backward -o runs/news-backward; }

news_lm_more() {
  # The shipped news LMs (`ship news-forward news-forward-2`, `ship news-backward news-backward-2`):
  # the runs above continued for 40 minutes on two threads (--init-from: the same network, a fresh
  # cosine schedule with warm-up), 4.5 steps a second alone against 1.2 for the first hour's single
  # thread beside another job. (They started from the first runs as then shipped, in float16: the
  # first runs' directories were gone.)
  news_text
  OMP_NUM_THREADS=2 seqtext train lm runs/news.txt "$@" $NEWS_LM --max-time 2400
}

news_forward_more() { news_lm_more --init-from runs/news-forward -o runs/news-forward-2; }

news_backward_more() { news_lm_more --backward --init-from runs/news-backward -o runs/news-backward-2; }

# pos-fast, ner-fast and chunk-fast: the taggers without language models (`ship pos-fast pos_fast`, ...).
pos_fast() {
  seqtext train tagger "$DATA/ud_ewt/en_ewt-ud-train.conllu" --dev "$DATA/ud_ewt/en_ewt-ud-dev.conllu" \
    -o runs/pos_fast --tag-column upos --layers 2 --dropout 0.33 --char-hidden 64 --batch-size 32 --epochs 14 --lr 2e-3 \
    --patience 3 --weights-dtype float16 --seed 1
}

ner_fast() {
  seqtext train tagger "$DATA/conllpp/train.txt" --dev "$DATA/conllpp/dev.txt" -o runs/ner_fast \
    --layers 1 --dropout 0.5 --char-hidden 50 --batch-size 32 --epochs 10 --lr 2e-3 --patience 3 --weights-dtype float16 \
    --seed 1
}

chunk_fast() {
  # No dev split is given: the last 10 % of train is held out for choosing the epoch.
  seqtext train tagger "$DATA/conll2000/train.txt" -o runs/chunk_fast --dev-fraction 0.1 --layers 2 --char-hidden 64 \
    --dropout 0.5 --batch-size 32 --epochs 14 --lr 2e-3 --patience 3 --weights-dtype float16 --seed 1
}

# The shipped pos, ner and chunk: the options of the -fast models with contextual string embeddings
# from the shipped news LMs (news_*_more; given by name, so the taggers record the names and not this
# machine's paths), and more epochs; two threads, one run after the other, as measured.
LMS="--pretrained-lm news-forward --pretrained-lm news-backward --max-time 3000"

pos() {
  # 20 epochs, --patience 5: with the first-hour LMs the run peaked at its 15th (95.81); with the
  # continued LMs --patience 3 stopped it at the 15th (best 95.74 at the 12th), --patience 5 ran all 20
  # (best 95.96 at the 19th).
  OMP_NUM_THREADS=2 seqtext train tagger "$DATA/ud_ewt/en_ewt-ud-train.conllu" --dev "$DATA/ud_ewt/en_ewt-ud-dev.conllu" \
    -o runs/pos --tag-column upos --layers 2 --dropout 0.33 --char-hidden 64 --batch-size 32 --epochs 20 --lr 2e-3 \
    --patience 5 --weights-dtype float16 --seed 1 $LMS
}

ner() {
  # 24 epochs: with the first-hour LMs the run was still improving at 10 (dev F1 90.04 at its last
  # epoch) and at 14 (90.88 at the 13th).
  OMP_NUM_THREADS=2 seqtext train tagger "$DATA/conllpp/train.txt" --dev "$DATA/conllpp/dev.txt" -o runs/ner \
    --layers 1 --dropout 0.5 --char-hidden 50 --batch-size 32 --epochs 24 --lr 2e-3 --patience 3 --weights-dtype float16 \
    --seed 1 $LMS
}

chunk() {
  # No dev split is given: the last 10 % of train is held out for choosing the epoch. 24 epochs: with
  # the first-hour LMs the run was still improving at 14 (95.01 at its last epoch) and at 20 (95.54).
  OMP_NUM_THREADS=2 seqtext train tagger "$DATA/conll2000/train.txt" -o runs/chunk --dev-fraction 0.1 --layers 2 \
    --char-hidden 64 --dropout 0.5 --batch-size 32 --epochs 24 --lr 2e-3 --patience 3 --weights-dtype float16 --seed 1 $LMS
}

sentiment() {
  # The shipped sentiment came from this command with the code of commit 0e0fedc (SST-2 dev 86.93);
  # today's n-gram path gives 86.58 with it (README), so that model stays shipped.
  # Word vectors from the unlabelled movie reviews first (skip-gram, 100 dimensions, about a minute):
  # the classifier's embeddings start from them.
  [ -f runs/reviews-sg.txt ] || seqtext train embeddings "$DATA/unlabelled/reviews.txt" -o runs/reviews-sg.txt
  seqtext train classifier "$DATA/sst2/phrases.train.tsv" --text-column sentence --dev "$DATA/sst2/sentences.dev" \
    -o runs/sentiment --label-names 0=negative,1=positive --lowercase --batch-size 64 --epochs 6 --lr 2e-3 \
    --embeddings runs/reviews-sg.txt --hidden 128 --pooling attention --weights-dtype float16 --seed 1
}

if [ "$1" = ship ]; then
  ship_model "$2" "${3:-}"
else
  "$1"
fi
