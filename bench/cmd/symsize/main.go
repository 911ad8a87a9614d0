// Command symsize lists which packages take the space in a Go binary: it
// reads the symbol table of an unstripped ELF build, as `go tool nm -size`
// shows it, and adds up the sizes of the symbols stored in the file (bss
// symbols take no space) by module (third-party code), by top-level directory
// (the standard library) and by package (this module's own code). It also
// prints the sizes of the sections that hold them.
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

const ownModule = "github.com/ggl-fleetd/ggl-fleetd/"

func main() {
	top := flag.Int("top", 15, "number of groups to list")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: symsize [--top N] UNSTRIPPED-BINARY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}

	if err := run(flag.Arg(0), *top); err != nil {
		fmt.Fprintf(os.Stderr, "symsize: %v\n", err)
		os.Exit(1)
	}
}

func run(binary string, top int) error {
	f, err := elf.Open(binary)
	if err != nil {
		return err
	}
	defer f.Close()

	symbols, err := f.Symbols()
	if err != nil {
		return fmt.Errorf("read symbols of %q (build it without -s): %w", binary, err)
	}

	sizes := map[string]int64{}
	var total int64
	for _, sym := range symbols {
		if !stored(f, sym) {
			continue
		}
		sizes[group(sym.Name)] += int64(sym.Size)
		total += int64(sym.Size)
	}
	printSections(f)
	printGroups(sizes, total, top)
	return nil
}

// stored reports whether sym has a size and lies in a section with file
// contents.
func stored(f *elf.File, sym elf.Symbol) bool {
	i := int(sym.Section)
	if sym.Size == 0 || i <= 0 || i >= len(f.Sections) {
		return false
	}
	return f.Sections[i].Type != elf.SHT_NOBITS
}

// printSections writes the sizes of the allocated sections with contents.
func printSections(f *elf.File) {
	fmt.Print("sections:")
	for _, sec := range f.Sections {
		if sec.Flags&elf.SHF_ALLOC != 0 && sec.Type != elf.SHT_NOBITS && sec.Size >= 64<<10 {
			fmt.Printf(" %s %.0f KiB", sec.Name, float64(sec.Size)/1024)
		}
	}
	fmt.Println()
}

// printGroups writes the top groups by size with their share of all
// symbols.
func printGroups(sizes map[string]int64, total int64, top int) {
	groups := make([]string, 0, len(sizes))
	for g := range sizes {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return sizes[groups[i]] > sizes[groups[j]] })

	fmt.Printf("symbols stored in the file: %.2f MiB; largest groups:\n", float64(total)/(1<<20))
	for _, g := range groups[:min(top, len(groups))] {
		fmt.Printf("  %8.0f KiB %5.1f%%  %s\n", float64(sizes[g])/1024,
			100*float64(sizes[g])/float64(total), g)
	}
}

// group returns the group of a symbol: the module of third-party code, the
// package of this module, the top-level directory of the standard library
// (crypto split one level further), or the symbol kind of runtime data.
func group(symbol string) string {
	for _, prefix := range []string{"type:", "go:", "runtime.pclntab", "runtime.text"} {
		if strings.HasPrefix(symbol, prefix) {
			return "(" + strings.TrimSuffix(prefix, ":") + " data)"
		}
	}

	path := strings.ReplaceAll(packagePath(symbol), "%2e", ".")
	parts := strings.Split(path, "/")
	switch {
	case strings.HasPrefix(path+"/", ownModule):
		return path
	case strings.Contains(parts[0], "."):
		return modulePath(parts)
	case parts[0] == "crypto" && len(parts) > 1:
		return "crypto/" + parts[1]
	case parts[0] == "vendor":
		return "vendor (std)"
	}
	return parts[0]
}

// packagePath returns the import path of a symbol: the name up to the first
// dot after the last slash, ignoring type arguments in brackets.
func packagePath(symbol string) string {
	if i := strings.IndexByte(symbol, '['); i >= 0 {
		symbol = symbol[:i]
	}
	slash := strings.LastIndexByte(symbol, '/')
	if dot := strings.IndexByte(symbol[slash+1:], '.'); dot >= 0 {
		return symbol[:slash+1+dot]
	}
	return symbol
}

// modulePath guesses the module of a third-party package from its path:
// three elements for hosting sites, two otherwise (go.uber.org/zap).
func modulePath(parts []string) string {
	n := 2
	switch parts[0] {
	case "github.com", "golang.org", "gitlab.com", "bitbucket.org":
		n = 3
	}
	return strings.Join(parts[:min(n, len(parts))], "/")
}
