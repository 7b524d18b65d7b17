#!/usr/bin/env python3
"""transformers' side of gpu-check's end-to-end step: a random Qwen2.5-0.5B-shaped model, timed with transformers' own
generate() and a plain PyTorch RL training step, then saved (with a tokenizer.json) so that hiexp times the same
weights (bench/policy.ts --load).

    python3 scripts/gpu/hf_baseline.py --model-dir DIR --out FILE.json [--batch 64] [--prompt 256] [--new 128]

The training step is the one hiexp's trainStep runs with its defaults, written as a PyTorch user would: forward,
per-token log-probs of the response, on-policy GRPO token-mean loss (-mean(A * logp) over response tokens: the same
gradient as the clipped surrogate at ratio 1), backward, global gradient-norm clip at 1, AdamW (lr 1e-5, weight
decay 0.01). Sampling: temperature 1, no top-k, no top-p, exactly --new tokens per row.
"""
import argparse
import json
import os
import sys
import time

import torch
import transformers
from transformers import Qwen2ForCausalLM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'bench'))
from hf_parity import qwen2_config, word_level_tokenizer  # noqa: E402  (one config builder, one tokenizer writer)

# Qwen2.5-0.5B's shape (its config.json), random weights.
QWEN25_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1e6,
                  tie_word_embeddings=True, max_position_embeddings=32768, use_sliding_window=False)


def timed(fn, device):
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize(device)
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model-dir', required=True, help='where the random model is saved for hiexp')
    ap.add_argument('--out', required=True, help='JSON results')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--prompt', type=int, default=256)
    ap.add_argument('--new', type=int, default=128)
    ap.add_argument('--device', default='cuda')
    a = ap.parse_args()
    if not torch.cuda.is_available():
        ap.error(f'PyTorch {torch.__version__} sees no CUDA device; this baseline times a GPU')
    device = torch.device(a.device)
    torch.manual_seed(0)
    cfg = qwen2_config(**QWEN25_05B)
    with device:
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.eval()
    vocab = cfg.vocab_size
    prompts = torch.randint(2, vocab, (a.batch, a.prompt), device=device)

    # generate(): a short warm-up, then one timed call of exactly a.new tokens per row.
    gen_kwargs = dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, pad_token_id=0,
                      attention_mask=torch.ones_like(prompts))
    with torch.no_grad():
        model.generate(prompts, max_new_tokens=4, min_new_tokens=4, **gen_kwargs)
        gen_s, out = timed(lambda: model.generate(prompts, max_new_tokens=a.new, min_new_tokens=a.new, **gen_kwargs),
                           device)
    gen_tokens = int((out.shape[1] - a.prompt) * a.batch)

    # One RL step, as hiexp's trainStep: warm-up step, then one timed step.
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    seqs = torch.cat([prompts, torch.randint(2, vocab, (a.batch, a.new), device=device)], dim=1)
    mask = torch.zeros_like(seqs, dtype=torch.float32)
    mask[:, a.prompt:] = 1
    adv = torch.tensor([1.0 if i % 2 else -1.0 for i in range(a.batch)], device=device)

    def step():
        logits = model(input_ids=seqs).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, seqs[:, 1:, None]).squeeze(-1)
        m = mask[:, 1:]
        loss = -(adv[:, None] * logp * m).sum() / m.sum()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss), float(norm)

    step()
    train_s, (loss, norm) = timed(step, device)
    train_tokens = a.batch * (a.prompt + a.new)

    model.save_pretrained(a.model_dir)
    with open(os.path.join(a.model_dir, 'tokenizer.json'), 'w') as f:
        json.dump(word_level_tokenizer(vocab, specials=False), f)
    result = {
        'transformers': transformers.__version__, 'torch': torch.__version__,
        'device_name': torch.cuda.get_device_name(device), 'dtype': 'bfloat16',
        'parameters': sum(p.numel() for p in model.parameters()),
        'batch': a.batch, 'prompt_tokens': a.prompt, 'new_tokens': a.new,
        'generate': {'seconds': gen_s, 'tokens': gen_tokens, 'tokens_per_s': gen_tokens / gen_s},
        'train': {'seconds': train_s, 'tokens': train_tokens, 'tokens_per_s': train_tokens / train_s,
                  'loss': loss, 'grad_norm': norm},
        'peak_memory_gib': torch.cuda.max_memory_allocated(device) / 2**30,
    }
    with open(a.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
