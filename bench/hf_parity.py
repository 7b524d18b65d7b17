#!/usr/bin/env python3
"""Parity of hiexp's Qwen2 decoder with Hugging Face transformers (float32, CPU or GPU host).

Both directions, for a tied and an untied random config with grouped-query attention:
  1. transformers builds a random Qwen2ForCausalLM, save_pretrained()s it (safetensors); hiexp's Policy.load reads the
     folder and its logits are compared with transformers' on random ids;
  2. hiexp creates a random policy and saves it; transformers' from_pretrained reads it and the logits are compared.
Pass: max |diff| < 1e-4 everywhere. Run from the repository root after `npm install`:
    python3 bench/hf_parity.py            (needs torch and transformers; no network)
Prints one line per case and writes bench/results/hf_parity.json.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4


def word_level_tokenizer(vocab_size):
    """A tokenizer.json hiexp can read (Policy.load needs one); the ids are what matter here."""
    specials = ['<pad>', '<unk>', '<|endoftext|>', '<search>', '</search>', '<information>', '</information>',
                '<answer>', '</answer>', '<experience>', '</experience>', '<think>', '</think>']
    vocab = {s: i for i, s in enumerate(specials)}
    for i in range(vocab_size - len(specials)):
        vocab[f't{i}'] = len(specials) + i
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [{'id': i, 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False,
                          'normalized': False, 'special': True} for i, s in enumerate(specials)],
        'normalizer': None, 'pre_tokenizer': {'type': 'BertPreTokenizer'}, 'post_processor': None, 'decoder': None,
        'model': {'type': 'WordLevel', 'vocab': vocab, 'unk_token': '<unk>'},
    }


def hiexp(*args):
    subprocess.run(['npx', 'tsx', os.path.join(ROOT, 'bench', 'hf_parity_logits.ts'), *args], cwd=ROOT, check=True)


def hiexp_logits(folder, ids, vocab):
    with tempfile.TemporaryDirectory() as tmp:
        ids_path, out_path = os.path.join(tmp, 'ids.json'), os.path.join(tmp, 'out.f32')
        with open(ids_path, 'w') as f:
            json.dump(ids.tolist(), f)
        hiexp('logits', folder, ids_path, out_path)
        flat = torch.frombuffer(bytearray(open(out_path, 'rb').read()), dtype=torch.float32)
    return flat.view(ids.shape[0], ids.shape[1], vocab)


def hf_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def main():
    torch.manual_seed(0)
    results = []
    for tie in (True, False):
        cfg = Qwen2Config(vocab_size=320, hidden_size=64, intermediate_size=176, num_hidden_layers=3,
                          num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0,
                          tie_word_embeddings=tie, max_position_embeddings=512, use_sliding_window=False,
                          torch_dtype='float32', attn_implementation='eager')
        ids = torch.randint(0, cfg.vocab_size, (3, 24))
        # 1. transformers -> hiexp
        model = Qwen2ForCausalLM(cfg).float().eval()
        with torch.no_grad():  # non-trivial biases and norms, so that a misplaced one shows
            for name, p in model.named_parameters():
                if name.endswith('bias') or 'norm' in name:
                    p.add_(torch.randn_like(p) * 0.1)
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder, safe_serialization=True)
            with open(os.path.join(folder, 'tokenizer.json'), 'w') as f:
                json.dump(word_level_tokenizer(cfg.vocab_size), f)
            diff = (hiexp_logits(folder, ids, cfg.vocab_size) - hf_logits(model, ids)).abs().max().item()
        results.append({'direction': 'transformers -> hiexp', 'tied': tie, 'max_abs_diff': diff})
        # 2. hiexp -> transformers
        with tempfile.TemporaryDirectory() as folder:
            cfg_path = os.path.join(folder, 'in_config.json')
            with open(cfg_path, 'w') as f:
                json.dump(cfg.to_dict(), f)
            out = os.path.join(folder, 'model')
            hiexp('save-random', out, cfg_path, '5')
            loaded = Qwen2ForCausalLM.from_pretrained(out, torch_dtype=torch.float32, attn_implementation='eager').eval()
            diff = (hiexp_logits(out, ids, cfg.vocab_size) - hf_logits(loaded, ids)).abs().max().item()
        results.append({'direction': 'hiexp -> transformers', 'tied': tie, 'max_abs_diff': diff})
    ok = all(r['max_abs_diff'] < TOL for r in results)
    for r in results:
        print(f"{r['direction']:24s} tied={str(r['tied']):5s} max|diff|={r['max_abs_diff']:.3e} "
              f"{'PASS' if r['max_abs_diff'] < TOL else 'FAIL'}")
    import transformers
    os.makedirs(os.path.join(ROOT, 'bench', 'results'), exist_ok=True)
    with open(os.path.join(ROOT, 'bench', 'results', 'hf_parity.json'), 'w') as f:
        json.dump({'transformers': transformers.__version__, 'torch': torch.__version__, 'tolerance': TOL,
                   'pass': ok, 'results': results}, f, indent=2)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
