#!/usr/bin/env python3
"""End to end: botocore's real sagemaker-runtime client -> `bifocal serve`'s gateway -> a fake
SageMaker runtime API that checks the gateway's SigV4 signature with botocore's own signer.

  runtime --port P --access-key K --secret S
      Serves POST /endpoints/{name}/invocations[-response-stream] on 127.0.0.1:P. Each request's
      Authorization is recomputed with botocore.auth.SigV4Auth over the headers the request says it
      signed, at the X-Amz-Date it carries; a mismatch is a 403 InvalidSignatureException, as AWS
      answers. Endpoint `model-error` answers 424 ModelError; the stream route answers a TGI stream
      as PayloadPart frames (this file's encoder), written in odd pieces with pauses.

  client --gateway URL --out F
      Calls the gateway with botocore's client (invoke_endpoint, invoke_endpoint_with_response_stream
      with an inference component, and the ModelError case), checks what botocore makes of the
      answers, and writes the record ids (x-bifocal-record-id) and expectations to F.
"""
import argparse
import datetime
import http.server
import json
import sys
import time
from unittest import mock

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TOKENS = [' Deep', ' learning', ' is', ' a', ' subset', ' of', ' machine', ' learning', '.']


def tgi_stream():
    text = b''
    for i, t in enumerate(TOKENS):
        text += ('data:' + json.dumps({'index': i, 'token': {'id': 100 + i, 'text': t, 'logprob': -0.1, 'special': False},
                                       'generated_text': None, 'details': None}, separators=(',', ':')) + '\n\n').encode()
    text += ('data:' + json.dumps({'index': 99, 'token': {'id': 2, 'text': '</s>', 'logprob': 0, 'special': True},
                                   'generated_text': ''.join(TOKENS),
                                   'details': {'finish_reason': 'eos_token', 'generated_tokens': len(TOKENS) + 1, 'seed': None}},
                                  separators=(',', ':')) + '\n\n').encode()
    return text


def encode_message(headers, payload):
    import binascii
    import struct
    hb = b''
    for name, value in headers:
        v = value.encode()
        hb += bytes([len(name)]) + name.encode() + b'\x07' + struct.pack('>H', len(v)) + v
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack('>II', total, len(hb))
    prelude += struct.pack('>I', binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hb + payload
    return body + struct.pack('>I', binascii.crc32(body) & 0xFFFFFFFF)


def payload_parts(text, sizes):
    frames = []
    i = k = 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        frames.append(encode_message([(':event-type', 'PayloadPart'), (':content-type', 'application/octet-stream'),
                                      (':message-type', 'event')], text[i:i + n]))
        i += n
        k += 1
    return b''.join(frames)


def verify(handler, body, access_key, secret):
    auth = handler.headers.get('Authorization', '')
    if not auth.startswith('AWS4-HMAC-SHA256 '):
        return False, 'no SigV4 Authorization'
    fields = dict(p.strip().split('=', 1) for p in auth[len('AWS4-HMAC-SHA256 '):].split(','))
    key_id, day, region, service, _ = fields['Credential'].split('/')
    if key_id != access_key:
        return False, 'unknown key id'
    signed = fields['SignedHeaders'].split(';')
    amz_date = handler.headers['X-Amz-Date']
    when = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ')
    request = AWSRequest(method=handler.command, url='http://%s%s' % (handler.headers['Host'], handler.path), data=body)
    for name in signed:
        if name in ('x-amz-date', 'x-amz-security-token'):
            continue
        for value in handler.headers.get_all(name) or []:
            request.headers[name] = value
    token = handler.headers.get('X-Amz-Security-Token')
    signer = botocore.auth.SigV4Auth(Credentials(access_key, secret, token), service, region)
    wrapped = mock.Mock(wraps=datetime.datetime)
    wrapped.now.return_value = when
    wrapped.utcnow.return_value = when
    patches = [mock.patch.object(botocore.auth.datetime, 'datetime', wrapped)]
    if hasattr(botocore.auth, 'get_current_datetime'):
        patches.append(mock.patch.object(botocore.auth, 'get_current_datetime', lambda *a, **k: when))
    for p in patches:
        p.start()
    try:
        signer.add_auth(request)
    finally:
        for p in patches:
            p.stop()
    ok = request.headers['Authorization'] == auth
    return ok, None if ok else 'botocore computes %s for %s (headers %s)' % (request.headers['Authorization'], auth, dict(handler.headers))


def runtime(port, access_key, secret):
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def send(self, status, headers, body):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
            ok, why = verify(self, body, access_key, secret)
            seen.append({'path': self.path, 'signature_ok': ok, 'why': why,
                         'component': self.headers.get('X-Amzn-SageMaker-Inference-Component')})
            sys.stderr.write('runtime: %s signature %s %s\n' % (self.path, 'ok' if ok else 'BAD', why or ''))
            if not ok:
                return self.send(403, [('Content-Type', 'application/json'), ('x-amzn-ErrorType', 'InvalidSignatureException')],
                                 b'{"message":"The request signature we calculated does not match the signature you provided."}')
            name = self.path.split('/')[2]
            if name == 'model-error':
                return self.send(424, [('Content-Type', 'application/json'),
                                       ('x-amzn-ErrorType', 'ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/')],
                                 json.dumps({'ErrorCode': 'CLIENT_ERROR_FROM_MODEL', 'Message': 'Received client error (400) from primary with message "bad input".',
                                             'OriginalMessage': 'bad input', 'OriginalStatusCode': 400,
                                             'LogStreamArn': 'arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/model-error'}).encode())
            if self.path.endswith('/invocations-response-stream'):
                stream = payload_parts(tgi_stream(), [23, 7, 120, 1, 64])
                self.send_response(200)
                self.send_header('Content-Type', 'application/vnd.amazon.eventstream')
                self.send_header('X-Amzn-SageMaker-Content-Type', 'text/event-stream')
                self.send_header('x-Amzn-Invoked-Production-Variant', 'AllTraffic')
                self.send_header('Content-Length', str(len(stream)))
                self.end_headers()
                # Odd pieces with pauses: the gateway must relay them as they come.
                i = 0
                for n in [5, 300, 2, 97, 1000, 10 ** 6]:
                    self.wfile.write(stream[i:i + n])
                    self.wfile.flush()
                    i += n
                    time.sleep(0.02)
                return
            answer = json.dumps([{'generated_text': ''.join(TOKENS),
                                  'details': {'finish_reason': 'length', 'generated_tokens': len(TOKENS)}}]).encode()
            self.send(200, [('Content-Type', 'application/json'), ('x-Amzn-Invoked-Production-Variant', 'variant-a')], answer)

    server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
    server.serve_forever()


def client(gateway, out):
    session = botocore.session.get_session()
    # The client's own keys: the gateway re-signs with its own, so these are never checked.
    c = session.create_client('sagemaker-runtime', region_name='us-east-1', endpoint_url=gateway,
                              aws_access_key_id='AKIACLIENTONLY000000', aws_secret_access_key='client-secret')
    results = {}
    failures = []

    r = c.invoke_endpoint(EndpointName='e2e-ep', Body=json.dumps({'inputs': 'What is deep learning?', 'parameters': {'details': True}}),
                          ContentType='application/json', Accept='application/json', TargetVariant='variant-a',
                          CustomAttributes='trace=1')
    body = json.loads(r['Body'].read())
    if body[0]['generated_text'] != ''.join(TOKENS):
        failures.append('invoke_endpoint: body %r' % body)
    results['invoke'] = {'id': r['ResponseMetadata']['HTTPHeaders'].get('x-bifocal-record-id'),
                         'variant': r.get('InvokedProductionVariant')}

    r = c.invoke_endpoint_with_response_stream(EndpointName='e2e-stream', Body=json.dumps({'inputs': 'What is deep learning?', 'stream': True}),
                                               ContentType='application/json', Accept='application/json',
                                               InferenceComponentName='ic-llama')
    parts = []
    for event in r['Body']:
        if 'PayloadPart' in event:
            parts.append(event['PayloadPart']['Bytes'])
        else:
            failures.append('stream: unexpected event %r' % event)
    if b''.join(parts) != tgi_stream():
        failures.append('stream: botocore read %d bytes of PayloadPart, not the %d the runtime sent' % (len(b''.join(parts)), len(tgi_stream())))
    results['stream'] = {'id': r['ResponseMetadata']['HTTPHeaders'].get('x-bifocal-record-id'), 'parts': len(parts),
                         'contentType': r.get('ContentType')}

    try:
        c.invoke_endpoint(EndpointName='model-error', Body=b'{"inputs":"x"}', ContentType='application/json')
        failures.append('model-error: no exception')
    except c.exceptions.ModelError as e:
        if e.response.get('OriginalStatusCode') != 400:
            failures.append('model-error: OriginalStatusCode %r' % e.response.get('OriginalStatusCode'))
        results['modelError'] = {'id': e.response['ResponseMetadata']['HTTPHeaders'].get('x-bifocal-record-id')}

    try:
        c.invoke_endpoint(EndpointName='x', Body=b'{}', ContentType='application/json', InferenceComponentName='not-served')
    except Exception as e:  # the fixture serves every endpoint: this one just works
        failures.append('any endpoint: %r' % e)

    results['failures'] = failures
    json.dump(results, open(out, 'w'))
    for f in failures:
        print('FAIL', f)
    print('sagemaker-e2e: botocore client: %d PayloadParts streamed, %d failures' % (results['stream']['parts'], len(failures)))
    return not failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('command', choices=['runtime', 'client'])
    ap.add_argument('--port', type=int)
    ap.add_argument('--access-key')
    ap.add_argument('--secret')
    ap.add_argument('--gateway')
    ap.add_argument('--out')
    a = ap.parse_args()
    if a.command == 'runtime':
        runtime(a.port, a.access_key, a.secret)
    else:
        sys.exit(0 if client(a.gateway, a.out) else 1)


if __name__ == '__main__':
    main()
