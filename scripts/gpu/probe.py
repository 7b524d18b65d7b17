#!/usr/bin/env python3
"""What scripts/gpu-check.sh needs to know about this machine's Python, as one JSON object on stdout.

Never raises: a missing torch or transformers is reported in the JSON (fields `torch_error`, `transformers_error`), so
that the caller can say what is missing instead of printing a traceback.
"""
import glob
import json
import os
import sys


def nccl_include_dir():
    """The folder holding nccl.h inside the nvidia-nccl wheel (nvidia/nccl/include; other layouts searched too)."""
    try:
        import nvidia.nccl  # namespace package of the nvidia-nccl-cu1x wheel
        roots = list(nvidia.nccl.__path__)
    except Exception:
        roots = []
    try:
        import nvidia
        roots += list(nvidia.__path__)  # cu13 wheels may nest it (nvidia/cu13/...)
    except Exception:
        pass
    for root in roots:
        for header in sorted(glob.glob(os.path.join(root, '**', 'nccl.h'), recursive=True)):
            return os.path.dirname(header)
    return None


def main():
    out = {'python': sys.executable, 'python_version': sys.version.split()[0]}
    try:
        import torch
        out['torch'] = torch.__version__
        out['torch_cuda'] = torch.version.cuda
        out['cmake_prefix_path'] = torch.utils.cmake_prefix_path
        out['cuda_available'] = bool(torch.cuda.is_available())
        out['device_count'] = torch.cuda.device_count() if out['cuda_available'] else 0
        if out['cuda_available']:
            major, minor = torch.cuda.get_device_capability(0)
            out['device_name'] = torch.cuda.get_device_name(0)
            out['capability'] = f'{major}{minor}'
            out['memory_gib'] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    except Exception as e:  # ImportError, or a broken CUDA install
        out['torch_error'] = f'{type(e).__name__}: {e}'
    try:
        import transformers
        out['transformers'] = transformers.__version__
    except Exception as e:
        out['transformers_error'] = f'{type(e).__name__}: {e}'
    out['nccl_include'] = nccl_include_dir()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
