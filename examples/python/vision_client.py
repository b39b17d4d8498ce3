#!/usr/bin/env python3
"""Streams frames to a vision-stream edge over yolo.v1 and prints one JSON line per reply.

    python3 vision_client.py --url ws://localhost:8080/ws/detect photo1.jpg photo2.jpg
    python3 vision_client.py --url wss://edge.example/ws/detect --token "$JWT" --camera 0 --fps 5

Frames come from image files (sent in turn, --loop to repeat) or an OpenCV capture (--camera N or
a video path with --video). At most the server's maxInFlight frames are open; a newer frame
replaces a waiting one (latest wins). On a dropped connection it reconnects with backoff
(1 s, x1.5, capped at 30 s, +-20 % jitter, reset after a stable minute); on "goaway" it reconnects.
Needs the `websockets` package (Debian: python3-websockets).
"""
import argparse, asyncio, json, random, struct, sys, time

import websockets

HEADER = struct.Struct(">BBHIdB")  # version, flags, header length, frameId, captureTs, streamId length


def encode_frame(frame_id, stream_id, image):
    sid = stream_id.encode()
    return HEADER.pack(1, 0, HEADER.size + len(sid), frame_id, time.time() * 1000, len(sid)) + sid + image


class Backoff:
    def __init__(self, initial=1.0, factor=1.5, cap=30.0, jitter=0.2, stable=60.0):
        self.initial, self.factor, self.cap, self.jitter, self.stable = initial, factor, cap, jitter, stable
        self.attempt, self.opened_at = 0, None

    def opened(self):
        self.opened_at = time.monotonic()

    def next(self):
        if self.opened_at is not None and time.monotonic() - self.opened_at >= self.stable:
            self.attempt = 0
        self.opened_at = None
        base = min(self.cap, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        return max(0.0, base * (1 + self.jitter * (2 * random.random() - 1)))


def frames(args):
    """Yields JPEG bytes: image files, or an OpenCV capture encoded as JPEG."""
    if args.images:
        while True:
            for path in args.images:
                with open(path, "rb") as f:
                    yield f.read()
            if not args.loop:
                return
    import cv2  # only needed for cameras and videos
    cap = cv2.VideoCapture(args.video if args.video else args.camera)
    while True:
        ok, img = cap.read()
        if not ok:
            return
        yield cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


async def connect(args):
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    try:  # websockets >= 14 renamed the argument
        return await websockets.connect(args.url, subprotocols=["yolo.v1"], additional_headers=headers, max_size=2**24)
    except TypeError:
        return await websockets.connect(args.url, subprotocols=["yolo.v1"], extra_headers=headers, max_size=2**24)


async def run(args):
    source = frames(args)
    backoff, frame_id, done = Backoff(), 0, False
    while not done:
        try:
            ws = await connect(args)
        except (OSError, websockets.exceptions.InvalidHandshake) as err:
            delay = backoff.next()
            print(json.dumps({"type": "reconnecting", "inMs": round(delay * 1000), "why": str(err)}), flush=True)
            await asyncio.sleep(delay)
            continue
        hello = json.loads(await ws.recv())
        window = hello["limits"]["maxInFlight"]
        backoff.opened()
        open_frames, reconnect = set(), False
        try:
            while not reconnect:
                # Send while the window allows; this simple loop waits instead of skipping.
                while len(open_frames) < window and not done:
                    image = next(source, None)
                    if image is None:
                        done = True
                        break
                    frame_id = (frame_id + 1) % 2**32
                    open_frames.add(frame_id)
                    await ws.send(encode_frame(frame_id, args.stream, image))
                    if args.fps:
                        await asyncio.sleep(1 / args.fps)
                if done and not open_frames:
                    await ws.close()
                    return
                msg = json.loads(await ws.recv())
                if msg.get("type") == "goaway":
                    reconnect = True  # open frames are still answered on this socket until it closes
                elif msg.get("type") in ("result", "error") and "frameId" in msg:
                    open_frames.discard(msg["frameId"])
                    print(json.dumps(msg), flush=True)
        except websockets.exceptions.ConnectionClosed:
            pass
        for fid in open_frames:  # never silently forgotten
            print(json.dumps({"type": "error", "frameId": fid, "error": {"code": "E_CONNECTION_LOST"}}), flush=True)
        if not done:
            delay = backoff.next()
            print(json.dumps({"type": "reconnecting", "inMs": round(delay * 1000)}), flush=True)
            await asyncio.sleep(delay)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="*", help="JPEG/PNG/WebP files to send")
    p.add_argument("--url", default="ws://localhost:8080/ws/detect")
    p.add_argument("--token", help="bearer token (JWT)")
    p.add_argument("--stream", default="python", help="stream id echoed in replies")
    p.add_argument("--camera", type=int, default=0, help="OpenCV camera index when no images are given")
    p.add_argument("--video", help="a video file instead of a camera")
    p.add_argument("--fps", type=float, default=0, help="pace sends (0: as fast as the window allows)")
    p.add_argument("--loop", action="store_true", help="repeat the image files")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
