"""Read a W&B offline run file (``run-<id>.wandb``) back: the file is W&B's record log (a 7-byte
header, then LevelDB's log format: 32 KiB blocks of chunks with a 7-byte header, full / first /
middle / last) holding ``wandb_internal_pb2.Record`` protobufs. wandb itself no longer ships a
Python reader (its core is in Go), so the test reads the format it documents."""
import struct

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0:  # zero padding up to the block's end
            pos += left
            continue
        chunk, pos = data[pos + HEADER:pos + HEADER + length], pos + HEADER + length
        if kind == FULL:
            raw = chunk
        elif kind == FIRST:
            pending = chunk
            continue
        elif kind == MIDDLE:
            pending += chunk
            continue
        else:
            raw, pending = pending + chunk, b""
        record = pb.Record()
        record.ParseFromString(raw)
        yield record


def history_and_summary(path):
    """-> (list of {key: value} per logged step, {key: value} of the last summary updates)."""
    import json

    def key(item):
        return item.key or "/".join(item.nested_key)

    history, summary = [], {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            summary.update({key(i): json.loads(i.value_json) for i in record.summary.update})
    return history, summary
