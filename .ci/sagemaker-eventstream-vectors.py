#!/usr/bin/env python3
# Run from the root of an unpacked botocore sdist (pip download --no-deps --no-binary :all: botocore==1.44.8),
# with pytest installed (the test module imports it): python3 THIS OUT.json
"""Copies the event-stream test vectors out of botocore's own unit tests (sdist) into JSON."""
import json, sys
sys.path.insert(0, '.')
from tests.unit import test_eventstream as t
def view(m):
    hs={}
    for k,v in m.headers.items():
        if isinstance(v,bool): hs[k]={'bool':v}
        elif isinstance(v,int): hs[k]={'int':v}
        elif isinstance(v,bytes): hs[k]={'bytes':v.hex()}
        else: hs[k]={'string':v}
    return {'headers':hs,'payloadHex':m.payload.hex(),'totalLength':m.prelude.total_length,'headersLength':m.prelude.headers_length}
names = ['EMPTY_MESSAGE','INT8_HEADER','INT16_HEADER','INT32_HEADER','INT64_HEADER','PAYLOAD_NO_HEADERS','PAYLOAD_ONE_STR_HEADER','ALL_HEADERS_TYPES','ERROR_EVENT_MESSAGE']
pos=[{'name':n,'frameHex':getattr(t,n)[0].hex(),'botocore':view(getattr(t,n)[1])} for n in names]
negn=['CORRUPTED_LENGTH','CORRUPTED_PAYLOAD','CORRUPTED_HEADERS','CORRUPTED_HEADER_LENGTH','DUPLICATE_HEADER','INVALID_HEADERS_LENGTH']
neg=[{'name':n,'frameHex':getattr(t,n)[0].hex(),'botocoreException':getattr(t,n)[1].__name__} for n in negn]
inv=t.INVALID_PAYLOAD_LENGTH[0]
assert inv[12:-4] == b'0' * (len(inv) - 16)
neg.append({'name':'INVALID_PAYLOAD_LENGTH','frameHex':'', 'preludeHex':inv[:12].hex(),'payloadFill':'30','payloadLength':len(inv)-16,'crcHex':inv[-4:].hex(),'botocoreException':'InvalidPayloadLength'})
json.dump({'source':'botocore 1.44.8 sdist, tests/unit/test_eventstream.py','positive':pos,'negative':neg},open(sys.argv[1],'w'),indent=1)
print(len(pos),len(neg))
