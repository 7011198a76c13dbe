"""python-tuf's side of benches/tuf_refresh.rs: the same refresh and download with ngclient.

    tuf_refresh.py refresh METADATA_DIR METADATA_URL
    tuf_refresh.py download METADATA_DIR METADATA_URL TARGETS_URL TARGET_DIR TARGET
    tuf_refresh.py worker METADATA_URL TARGETS_URL

The first two do one operation per process, as a user runs a client. `worker` reads
`refresh METADATA_DIR` or `download METADATA_DIR TARGET_DIR TARGET` lines from standard
input and answers each with the seconds it took, so imports and interpreter start are not
counted. Each operation builds a new Updater, as a new process would. Needs `pip install tuf`.
"""

import sys
import time

from tuf.ngclient import Updater


def refresh(metadata_dir, metadata_url):
    Updater(metadata_dir, metadata_url, bootstrap=None).refresh()


def download(metadata_dir, metadata_url, targets_url, target_dir, target):
    updater = Updater(
        metadata_dir, metadata_url, target_dir, targets_url, bootstrap=None
    )
    updater.refresh()
    info = updater.get_targetinfo(target)
    if info is None:
        raise SystemExit(f"{target}: not found")
    if updater.find_cached_target(info) is None:
        updater.download_target(info)


def worker(metadata_url, targets_url):
    for line in sys.stdin:
        args = line.split()
        if not args or args[0] == "quit":
            return
        start = time.perf_counter()
        if args[0] == "refresh":
            refresh(args[1], metadata_url)
        elif args[0] == "download":
            download(args[1], metadata_url, targets_url, args[2], args[3])
        else:
            raise SystemExit(f"unknown command {args[0]!r}")
        print(f"{time.perf_counter() - start:.6f}", flush=True)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "refresh":
        refresh(*args)
    elif command == "download":
        download(*args)
    elif command == "worker":
        worker(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
