// Go's bufio as a reader for bench/frame.ts, the ceiling: bufio.Scanner for
// lines, bufio.Reader + io.ReadFull for 4-byte length-prefixed frames.
// Counts messages until the end, prints {"messages": N, "seconds": S}.
//
//	go run frame_scan.go lines|frames PORT
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: frame_scan lines|frames PORT")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		panic(err)
	}
	start := time.Now()
	count := 0
	if os.Args[1] == "lines" {
		scanner := bufio.NewScanner(conn)
		for scanner.Scan() {
			count++
		}
		if err := scanner.Err(); err != nil {
			panic(err)
		}
	} else {
		reader := bufio.NewReaderSize(conn, 64*1024)
		var head [4]byte
		body := make([]byte, 64*1024)
		for {
			if _, err := io.ReadFull(reader, head[:]); err == io.EOF {
				break
			} else if err != nil {
				panic(err)
			}
			if _, err := io.ReadFull(reader, body[:binary.BigEndian.Uint32(head[:])]); err != nil {
				panic(err)
			}
			count++
		}
	}
	fmt.Printf("{\"messages\": %d, \"seconds\": %f}\n", count, time.Since(start).Seconds())
}
