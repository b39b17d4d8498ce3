#!/usr/bin/python3
"""A real RTSP server for tests and benchmarks: Debian's GStreamer RTSP server (gir1.2-gst-rtsp-server-1.0,
python3-gi) serving an H.264 clip at its frame rate, looped forever, on 127.0.0.1.

The clip is an Annex-B H.264 elementary stream with an access unit delimiter before every frame
(ffmpeg -c:v libx264 -x264-params aud=1 -f h264), so it splits into frames without a parser. Frames are
pushed by a timer (not at the pipeline's request), so every client sees real-time pacing; the media is
shared by every client of the mount. Optional Basic authentication: only --user/--password may play.
Optional TLS (rtsps://): --tls-cert names a PEM file holding the certificate and its key
(anyone may play: not combined with --user).

Prints "READY <port>" once listening; SIGTERM stops it. Run with /usr/bin/python3 (the system one has gi).
"""
import argparse
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gio, GLib, Gst, GstRtspServer  # noqa: E402

AUD = b'\x00\x00\x00\x01\x09'


def access_units(data):
    starts = []
    i = data.find(AUD)
    while i >= 0:
        starts.append(i)
        i = data.find(AUD, i + 1)
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--clip', required=True)
    p.add_argument('--fps', type=int, required=True)
    p.add_argument('--path', default='/cam')
    p.add_argument('--user')
    p.add_argument('--password')
    p.add_argument('--tls-cert')
    a = p.parse_args()
    Gst.init(None)
    with open(a.clip, 'rb') as f:
        aus = access_units(f.read())
    if not aus:
        sys.exit('no access units in the clip (encode with -x264-params aud=1)')

    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_shared(True)
    factory.set_launch(
        '( appsrc name=src is-live=true do-timestamp=true format=time '
        f'caps="video/x-h264,stream-format=byte-stream,alignment=au,framerate={a.fps}/1" '
        '! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )

    def configure(_factory, media):
        src = media.get_element().get_by_name('src')
        state = {'n': 0}

        def push():
            au = aus[state['n'] % len(aus)]
            state['n'] += 1
            buf = Gst.Buffer.new_wrapped(au)
            buf.duration = Gst.SECOND // a.fps
            return src.emit('push-buffer', buf) == Gst.FlowReturn.OK

        timer = GLib.timeout_add(1000 // a.fps, push)
        media.connect('unprepared', lambda *_: GLib.source_remove(timer))

    factory.connect('media-configure', configure)
    if a.tls_cert:
        auth = GstRtspServer.RTSPAuth()
        with open(a.tls_cert) as f:
            auth.set_tls_certificate(Gio.TlsCertificate.new_from_pem(f.read(), -1))
        anyone = GstRtspServer.RTSPToken()
        anyone.set_string('media.factory.role', 'viewer')
        auth.set_default_token(anyone)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role('viewer', 'media.factory.access', True)
        permissions.add_permission_for_role('viewer', 'media.factory.construct', True)
        factory.set_permissions(permissions)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string('media.factory.role', 'viewer')
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password or ''), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role('viewer', 'media.factory.access', True)
        permissions.add_permission_for_role('viewer', 'media.factory.construct', True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        sys.exit(f'cannot listen on 127.0.0.1:{a.port}')
    print(f'READY {server.get_bound_port()}', flush=True)
    loop = GLib.MainLoop()
    # Python's own handlers would wait for the C main loop to return; GLib's run inside it.
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    loop.run()


main()
