// Runs LLVMFuzzerTestOneInput without libFuzzer, under any compiler:
//   frame_fuzz_replay                    10,000 deterministic mutations of
//                                        valid frames (the ctest test)
//   frame_fuzz_replay FILE|DIR...        each file (e.g. a crash or corpus)
//   frame_fuzz_replay --write-corpus DIR writes the valid seed frames to DIR
// A failing input aborts, as it would under the fuzzer.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/seed_frames.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kIterations = 10000;

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "frame_fuzz_replay: cannot read %s\n", path.c_str());
    return 1;
  }
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return 0;
}

int RunFiles(int argc, char** argv) {
  int failures = 0;
  int count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (!entry.is_regular_file()) continue;
        failures += RunFile(entry.path());
        ++count;
      }
    } else {
      failures += RunFile(path);
      ++count;
    }
  }
  std::printf("frame_fuzz_replay: %d files replayed\n", count);
  return failures == 0 ? 0 : 1;
}

int WriteCorpus(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto frames = cls::fuzz::SeedFrames();
  for (size_t i = 0; i < frames.size(); ++i) {
    std::ofstream out(dir / ("seed-" + std::to_string(i + 1)),
                      std::ios::binary);
    out.write(reinterpret_cast<const char*>(frames[i].data()),
              static_cast<std::streamsize>(frames[i].size()));
    if (!out) return 1;
  }
  std::printf("frame_fuzz_replay: wrote %zu seed frames to %s\n", frames.size(),
              dir.c_str());
  return 0;
}

cls::Bytes Mutate(const std::vector<cls::Bytes>& seeds, std::mt19937_64& rng) {
  auto below = [&](uint64_t n) { return n == 0 ? uint64_t{0} : rng() % n; };
  cls::Bytes input = seeds[below(seeds.size())];
  const int edits = 1 + static_cast<int>(below(6));
  for (int e = 0; e < edits; ++e) {
    switch (below(7)) {
      case 0:  // flip a bit
        if (!input.empty()) {
          const size_t bit = below(input.size() * 8);
          input[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        }
        break;
      case 1:  // overwrite a byte with an interesting value
        if (!input.empty()) {
          static constexpr uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xfe, 0xff};
          input[below(input.size())] = kValues[below(std::size(kValues))];
        }
        break;
      case 2:  // random byte
        if (!input.empty())
          input[below(input.size())] = static_cast<uint8_t>(rng());
        break;
      case 3:  // truncate
        input.resize(below(input.size() + 1));
        break;
      case 4:  // append a word
        for (int i = 0; i < 8; ++i)
          input.push_back(static_cast<uint8_t>(rng()));
        break;
      case 5: {  // splice the tail of another frame
        const cls::Bytes& other = seeds[below(seeds.size())];
        const size_t cut = below(input.size() + 1);
        const size_t from = below(other.size());
        input.resize(cut);
        input.insert(input.end(),
                     other.begin() + static_cast<std::ptrdiff_t>(from),
                     other.end());
        break;
      }
      case 6:  // keep the header consistent with the (edited) payload
        if (input.size() >= 8) {
          const auto length = static_cast<uint32_t>(input.size() - 8);
          for (int i = 0; i < 4; ++i)
            input[4 + i] = static_cast<uint8_t>(length >> (8 * i));
        }
        break;
    }
  }
  return input;
}

int RunMutations() {
  const auto seeds = cls::fuzz::SeedFrames();
  for (const auto& seed : seeds)
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
  std::mt19937_64 rng(0xf7a3e5eedull);
  for (int i = 0; i < kIterations; ++i) {
    const cls::Bytes input = Mutate(seeds, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("frame_fuzz_replay: %zu seeds and %d mutations passed\n",
              seeds.size(), kIterations);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-corpus")
    return WriteCorpus(argv[2]);
  if (argc > 1) return RunFiles(argc, argv);
  return RunMutations();
}
