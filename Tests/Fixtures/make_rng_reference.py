"""Reference values for RNGTests: xoshiro256** (Blackman & Vigna, xoshiro256starstar.c) seeded through
SplitMix64 as Sources/MMTensor/RNG.swift seeds it, written from the published C code, not from the Swift one.
Run: python3 Tests/Fixtures/make_rng_reference.py > Tests/Fixtures/rng_reference.json"""
import json
import math

M = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Xoshiro:
    def __init__(self, seed=None, stream=0, state=None):
        if state is not None:
            self.s = list(state)
            return
        sm = (seed + 0x9E3779B97F4A7C15 * (stream + 1)) & M
        s = []
        for _ in range(4):  # SplitMix64
            sm = (sm + 0x9E3779B97F4A7C15) & M
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
            s.append(z ^ (z >> 31))
        self.s = s

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def normal(self):
        u1 = max(self.uniform(), 1e-300)
        u2 = self.uniform()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def permutation(self, n):
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.next() % (i + 1)
            p[i], p[j] = p[j], p[i]
        return p


cases = []
for seed, stream in [(0, 0), (42, 0), (42, 1), (2**64 - 1, 7)]:
    r = Xoshiro(seed, stream)
    state = list(r.s)
    nexts = [str(r.next()) for _ in range(5)]  # as strings: UInt64 does not fit JSON's doubles
    uniforms = [r.uniform() for _ in range(3)]
    normals = [r.normal() for _ in range(3)]
    perm = r.permutation(10)
    cases.append(dict(seed=str(seed), stream=stream, state=[str(x) for x in state], next=nexts,
                      uniform=uniforms, normal=normals, permutation=perm))
plain = Xoshiro(state=[1, 2, 3, 4])
print(json.dumps(dict(cases=cases, state1234=[str(plain.next()) for _ in range(4)]), indent=1))
