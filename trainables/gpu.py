"""A trial's share of a GPU as a hard TensorFlow memory limit.

Ray's fractional GPUs (``--gpus-per-trial 0.25``) only schedule: four trials land on one GPU, and
TensorFlow's memory growth is no cap, so the first trial to grow can starve the other three.
Each trial instead gets a logical device limited to its share of the GPU's memory, less the CUDA
context every process holds outside TensorFlow's allocator.
"""

import subprocess

# Per process, outside TensorFlow's allocator: the CUDA context, cuDNN and cuBLAS handles.
CUDA_CONTEXT_MB = 512


def memory_limit_mb(total_mb, share):
    """TensorFlow's memory limit for a trial holding ``share`` of a GPU with ``total_mb``; None for a
    whole GPU (memory growth then). Trials whose shares add up to 1 fit: n * (limit + context) <= total."""
    if share is None or share >= 1 or not total_mb:
        return None
    limit = int(total_mb * share) - CUDA_CONTEXT_MB
    if limit < 256:
        raise ValueError(f"--gpus-per-trial {share:g} of a {total_mb} MB GPU leaves {limit} MB for TensorFlow")
    return limit


def total_memory_mb(gpu_ids):
    """The smallest total memory of the GPUs ``gpu_ids`` (Ray's physical ids) from nvidia-smi; None without it."""
    command = ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"]
    if gpu_ids:
        command += ["-i", ",".join(str(i) for i in gpu_ids)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    values = [int(v) for v in out.split() if v.strip().isdigit()]
    return min(values) if values else None


def configure(tf, gpus, share, gpu_ids):
    """Memory growth on a whole GPU; a hard limit from the share on a fraction of one."""
    limit = memory_limit_mb(total_memory_mb(gpu_ids), share) if gpus and share and share < 1 else None
    for gpu in gpus:
        if limit is None:
            tf.config.experimental.set_memory_growth(gpu, True)
        else:
            tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
    return limit
