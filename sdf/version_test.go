package sdf

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.0.1", "2.0.1", 0},
		{"1.3.0", "2.0.1", -1},
		{"2.10.0", "2.9.0", 1},
		{"2.3.0-dev", "2.3.0", -1},
		{"2.3.0", "2.3.0-dev", 1},
		{"dev", "2.3.0", 1},
		{"2.3.0", "dev", -1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
