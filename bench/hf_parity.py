#!/usr/bin/env python3
"""Parity of hiexp's Qwen2 decoder with Hugging Face transformers, both directions, float32 and bfloat16, CPU or GPU.

For a tied and an untied random config with grouped-query attention, qkv biases and rope theta 1e4:
  1. transformers builds a random Qwen2ForCausalLM and save_pretrained()s it (safetensors); hiexp's Policy.load reads
     the folder and its logits are compared with transformers' on random ids;
  2. hiexp creates a random policy and saves it; transformers' from_pretrained reads it and the logits are compared.
Each dtype runs both models at that dtype on --device. The float64 forward of the same weights (transformers on the
CPU, .double()) is the reference each is also measured against.
Pass:
  float32   max |hiexp - transformers| < 1e-4
  bfloat16  hiexp's max |error| against the float64 reference <= 2 x transformers' own bfloat16 error + 1e-3
            (both round the same weights to bfloat16; hiexp may round in other places, but not much worse)
Run from the repository root once the addon is built (no network; HIEXP_ADDON picks another build of the addon):
    python3 bench/hf_parity.py [--device cpu|cuda] [--dtypes float32,bfloat16] [--out bench/results/hf_parity.json]
Prints one line per case and writes the JSON; exits 1 on any mismatch.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL_F32 = 1e-4
BF16_RATIO, BF16_FLOOR = 2.0, 1e-3
ROPE_THETA = 10000.0  # not Qwen2.5's 1e6, which is also hiexp's default: a rope theta that is not read would show
TRANSFORMERS_MAJOR = int(transformers.__version__.split('.')[0])
DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16}


def dtype_kwargs(dtype):
    """transformers 5 renamed torch_dtype to dtype."""
    return {'dtype': dtype} if TRANSFORMERS_MAJOR >= 5 else {'torch_dtype': dtype}


def qwen2_config(**kw):
    """A Qwen2Config for either major version: transformers 5 keeps rope theta in rope_parameters."""
    theta = kw.pop('rope_theta')
    if TRANSFORMERS_MAJOR >= 5:
        kw['rope_parameters'] = {'rope_type': 'default', 'rope_theta': theta}
    else:
        kw['rope_theta'] = theta
    return Qwen2Config(**kw, **dtype_kwargs('float32'))


def word_level_tokenizer(vocab_size, specials=True):
    """A tokenizer.json hiexp can read (Policy.load needs one); the ids are what matter here. hiexp needs an EOS token
    (<|endoftext|>); without `specials` it is the only special token, so that a random model rarely samples one."""
    names = (['<pad>', '<unk>', '<|endoftext|>', '<search>', '</search>', '<information>', '</information>',
              '<answer>', '</answer>', '<experience>', '</experience>', '<think>', '</think>']
             if specials else ['<unk>', '<|endoftext|>'])
    vocab = {s: i for i, s in enumerate(names)}
    for i in range(vocab_size - len(names)):
        vocab[f't{i}'] = len(names) + i
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [{'id': i, 'content': s, 'single_word': False, 'lstrip': False, 'rstrip': False,
                          'normalized': False, 'special': True} for i, s in enumerate(names)],
        'normalizer': None, 'pre_tokenizer': {'type': 'BertPreTokenizer'}, 'post_processor': None, 'decoder': None,
        'model': {'type': 'WordLevel', 'vocab': vocab, 'unk_token': '<unk>'},
    }


def hiexp(*args):
    tsx = os.path.join(ROOT, 'node_modules', '.bin', 'tsx')
    subprocess.run([tsx, os.path.join(ROOT, 'bench', 'hf_parity_logits.ts'), *args], cwd=ROOT, check=True)


def hiexp_logits(folder, ids, vocab, device, dtypes):
    """hiexp's logits for each dtype (one process loads the folder once per dtype), as float32 CPU tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = os.path.join(tmp, 'ids.json')
        with open(ids_path, 'w') as f:
            json.dump(ids.tolist(), f)
        hiexp('logits', folder, ids_path, tmp, '--device', device, '--dtypes', ','.join(dtypes))
        out = {}
        for d in dtypes:
            flat = torch.frombuffer(bytearray(open(os.path.join(tmp, f'{d}.f32'), 'rb').read()), dtype=torch.float32)
            out[d] = flat.view(ids.shape[0], ids.shape[1], vocab)
        return out


def hf_logits(model, ids, device=None, dtype=None):
    """transformers' logits of `model` (or of a copy moved to device/dtype), on the CPU in the model's own precision."""
    m = model if device is None else copy.deepcopy(model).to(device=device, dtype=dtype)
    with torch.no_grad():
        return m(input_ids=ids.to(next(m.parameters()).device)).logits.cpu()


def compare(direction, tie, device, dtypes, ours, theirs_model, ids):
    """One result row per dtype: hiexp against transformers, and both against the float64 reference (transformers
    in float64 on the CPU; it still computes the rope angles in float32, as it does at every dtype)."""
    ref = hf_logits(copy.deepcopy(theirs_model).double(), ids)
    assert ref.dtype == torch.float64
    rows = []
    for d in dtypes:
        theirs = hf_logits(theirs_model, ids, device, DTYPES[d]).float()
        diff = (ours[d] - theirs).abs().max().item()
        ours_err = (ours[d].double() - ref).abs().max().item()
        theirs_err = (theirs.double() - ref).abs().max().item()
        if d == 'float32':
            ok, tol = diff < TOL_F32, f'|hiexp - transformers| < {TOL_F32:g}'
        else:
            bound = BF16_RATIO * theirs_err + BF16_FLOOR
            ok, tol = ours_err <= bound, f'hiexp err <= {BF16_RATIO:g} x transformers err + {BF16_FLOOR:g} = {bound:.3e}'
        rows.append({'direction': direction, 'tied': tie, 'device': device, 'dtype': d, 'max_abs_diff': diff,
                     'hiexp_err_vs_f64': ours_err, 'transformers_err_vs_f64': theirs_err, 'tolerance': tol,
                     'pass': bool(ok)})
    return rows


def rope_note(folder):
    """Why a transformers -> hiexp case may fail: where the saved config.json keeps rope theta."""
    with open(os.path.join(folder, 'config.json')) as f:
        saved = json.load(f)
    if 'rope_theta' not in saved and 'rope_theta' in (saved.get('rope_parameters') or {}):
        return ("transformers' config.json keeps rope_theta under rope_parameters (transformers >= 5); hiexp's "
                'configFromHf (lib/model/config.ts) reads only a top-level rope_theta')
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cpu', help="cpu or cuda (both models run there)")
    ap.add_argument('--dtypes', default='float32', help='comma-separated: float32, bfloat16')
    ap.add_argument('--out', default=os.path.join(ROOT, 'bench', 'results', 'hf_parity.json'))
    a = ap.parse_args()
    dtypes = a.dtypes.split(',')
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        ap.error(f"--dtypes: {bad[0]!r} is not one of {', '.join(DTYPES)}")
    if a.device.startswith('cuda') and not torch.cuda.is_available():
        ap.error(f'--device {a.device}: PyTorch {torch.__version__} sees no CUDA device')
    # Full float32 on the GPU: no TF32 in transformers' matrix products (hiexp's libtorch keeps the same default).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    results, notes = [], []
    for tie in (True, False):
        cfg = qwen2_config(vocab_size=320, hidden_size=64, intermediate_size=176, num_hidden_layers=3,
                           num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=ROPE_THETA,
                           tie_word_embeddings=tie, max_position_embeddings=512, use_sliding_window=False,
                           attn_implementation='eager')
        ids = torch.randint(0, cfg.vocab_size, (3, 24))
        # 1. transformers -> hiexp
        model = Qwen2ForCausalLM(cfg).float().eval()
        with torch.no_grad():  # non-trivial biases and norms, so that a misplaced one shows
            for name, p in model.named_parameters():
                if name.endswith('bias') or 'norm' in name:
                    p.add_(torch.randn_like(p) * 0.1)
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            with open(os.path.join(folder, 'tokenizer.json'), 'w') as f:
                json.dump(word_level_tokenizer(cfg.vocab_size), f)
            ours = hiexp_logits(folder, ids, cfg.vocab_size, a.device, dtypes)
            rows = compare('transformers -> hiexp', tie, a.device, dtypes, ours, model, ids)
            if not all(r['pass'] for r in rows) and rope_note(folder):
                notes.append(rope_note(folder))
            results += rows
        # 2. hiexp -> transformers
        with tempfile.TemporaryDirectory() as folder:
            cfg_path = os.path.join(folder, 'in_config.json')
            hf_form = cfg.to_dict()
            hf_form.setdefault('rope_theta', ROPE_THETA)  # the form hiexp reads (and every Qwen2 checkpoint has)
            with open(cfg_path, 'w') as f:
                json.dump(hf_form, f)
            out = os.path.join(folder, 'model')
            hiexp('save-random', out, cfg_path, '5')
            loaded = Qwen2ForCausalLM.from_pretrained(out, attn_implementation='eager',
                                                      **dtype_kwargs(torch.float32)).eval()
            ours = hiexp_logits(out, ids, cfg.vocab_size, a.device, dtypes)
            results += compare('hiexp -> transformers', tie, a.device, dtypes, ours, loaded, ids)
    ok = all(r['pass'] for r in results)
    for r in results:
        print(f"{r['direction']:24s} tied={str(r['tied']):5s} {r['dtype']:8s} {r['device']:6s} "
              f"max|diff|={r['max_abs_diff']:.3e} err64 hiexp={r['hiexp_err_vs_f64']:.3e} "
              f"transformers={r['transformers_err_vs_f64']:.3e} {'PASS' if r['pass'] else 'FAIL'}")
    for n in dict.fromkeys(notes):
        print(f'note: {n}')
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, 'w') as f:
        json.dump({'transformers': transformers.__version__, 'torch': torch.__version__, 'device': a.device,
                   'device_name': torch.cuda.get_device_name(0) if a.device.startswith('cuda') else 'cpu',
                   'tolerance': {'float32': TOL_F32, 'bfloat16': {'ratio': BF16_RATIO, 'floor': BF16_FLOOR}},
                   'rope_theta': ROPE_THETA, 'pass': ok, 'results': results, 'notes': list(dict.fromkeys(notes))},
                  f, indent=2)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
