package sddf

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The C types sDDF's config structs are made of.
var (
	u8    = Scalar{"uint8_t", 1}
	u16   = Scalar{"uint16_t", 2}
	u32   = Scalar{"uint32_t", 4}
	u64   = Scalar{"uint64_t", 8}
	boolT = Scalar{"bool", 1}
	char  = Scalar{"char", 1}
	ptr   = Scalar{"void *", 8}
	uptr  = Scalar{"uintptr_t", 8}
)

func chars(n uint64) Array { return Array{Elem: char, Len: n} }

// Limits of sDDF 0.7 (650ace5) and Microkit 2.x.
const (
	maxDeviceRegions = 64
	maxDeviceIRQs    = 64
	maxSerialClients = 64
	maxBlkClients    = 64
	serialBeginMax   = 128
	nameLength       = 64 // SDDF_NAME_LENGTH: Microkit's PD name length
)

// The config structs of sDDF 0.7 (650ace5) that plinth writes, as its
// headers declare them (include/sddf/resources, serial, timer, blk; the
// blk structs are the same in 0.6.0).
var (
	regionResource = &Struct{Name: "region_resource_t", Fields: []Field{{"vaddr", ptr}, {"size", u64}}}
	deviceRegion   = &Struct{Name: "device_region_resource_t", Fields: []Field{{"region", regionResource}, {"io_addr", uptr}}}
	deviceIRQ      = &Struct{Name: "device_irq_resource_t", Fields: []Field{{"id", u8}}}
	serialConn     = &Struct{Name: "serial_connection_resource_t", Fields: []Field{{"queue", regionResource}, {"data", regionResource}, {"id", u8}}}
	blkConn        = &Struct{Name: "blk_connection_resource_t", Fields: []Field{{"storage_info", regionResource}, {"req_queue", regionResource}, {"resp_queue", regionResource}, {"num_buffers", u16}, {"id", u8}}}
	blkVirtClient  = &Struct{Name: "blk_virt_config_client_t", Fields: []Field{{"conn", blkConn}, {"data", deviceRegion}, {"partition", u32}}}
	blkVirtDriver  = &Struct{Name: "blk_virt_config_driver_t", Fields: []Field{{"conn", blkConn}, {"data", deviceRegion}}}
	serialTxClient = &Struct{Name: "serial_virt_tx_client_config_t", Fields: []Field{{"conn", serialConn}, {"name", chars(nameLength)}}}

	// DeviceResources is a driver's registers, memory and interrupts.
	DeviceResources = Config{Section: ".device_resources", Class: 0x1, Header: "sddf/resources/device.h", Struct: &Struct{Name: "device_resources_t", Fields: []Field{
		{"magic", chars(5)}, {"num_regions", u8}, {"num_irqs", u8},
		{"regions", Array{deviceRegion, maxDeviceRegions}}, {"irqs", Array{deviceIRQ, maxDeviceIRQs}}}}}
	// SerialDriver is the serial driver's two connections to the virtualisers.
	SerialDriver = Config{Section: ".serial_driver_config", Class: 0x3, Header: "sddf/serial/config.h", Struct: &Struct{Name: "serial_driver_config_t", Fields: []Field{
		{"magic", chars(5)}, {"rx", serialConn}, {"tx", serialConn}, {"default_baud", u64}, {"rx_enabled", boolT}}}}
	// SerialVirtRX is the receive virtualiser's driver and client connections.
	SerialVirtRX = Config{Section: ".serial_virt_rx_config", Class: 0x3, Header: "sddf/serial/config.h", Struct: &Struct{Name: "serial_virt_rx_config_t", Fields: []Field{
		{"magic", chars(5)}, {"driver", serialConn}, {"clients", Array{serialConn, maxSerialClients}},
		{"num_clients", u8}, {"switch_char", char}, {"terminate_num_char", char}}}}
	// SerialVirtTX is the transmit virtualiser's connections, client names
	// and banner.
	SerialVirtTX = Config{Section: ".serial_virt_tx_config", Class: 0x3, Header: "sddf/serial/config.h", Struct: &Struct{Name: "serial_virt_tx_config_t", Fields: []Field{
		{"magic", chars(5)}, {"driver", serialConn}, {"clients", Array{serialTxClient, maxSerialClients}},
		{"num_clients", u8}, {"begin_str", chars(serialBeginMax)}, {"enable_colour", boolT}, {"enable_rx", boolT}}}}
	// SerialClient is a client's receive and transmit connections.
	SerialClient = Config{Section: ".serial_client_config", Class: 0x3, Header: "sddf/serial/config.h", Struct: &Struct{Name: "serial_client_config_t", Fields: []Field{
		{"magic", chars(5)}, {"rx", serialConn}, {"tx", serialConn}}}}
	// BlkDriver is the block driver's connection to the virtualiser.
	BlkDriver = Config{Section: ".blk_driver_config", Class: 0x2, Header: "sddf/blk/config.h", Struct: &Struct{Name: "blk_driver_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt", blkConn}}}}
	// BlkVirt is the block virtualiser's driver and client connections,
	// the DMA memory of each and each client's partition.
	BlkVirt = Config{Section: ".blk_virt_config", Class: 0x2, Header: "sddf/blk/config.h", Struct: &Struct{Name: "blk_virt_config_t", Fields: []Field{
		{"magic", chars(5)}, {"num_clients", u64}, {"driver", blkVirtDriver}, {"clients", Array{blkVirtClient, maxBlkClients}}}}}
	// BlkClient is a block client's connection and data region.
	BlkClient = Config{Section: ".blk_client_config", Class: 0x2, Header: "sddf/blk/config.h", Struct: &Struct{Name: "blk_client_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt", blkConn}, {"data", regionResource}}}}
	// TimerClient is a timer client's channel to the driver.
	TimerClient = Config{Section: ".timer_client_config", Class: 0x6, Header: "sddf/timer/config.h", Struct: &Struct{Name: "timer_client_config_t", Fields: []Field{
		{"magic", chars(5)}, {"driver_id", u8}}}}
)

// SerialVirtTX06 is SerialVirtTX as sDDF 0.6.0 (the release for Microkit
// 2.0.1) declares it: the begin string's length follows the string.
var SerialVirtTX06 = Config{Section: ".serial_virt_tx_config", Class: 0x3, Header: "sddf/serial/config.h", Struct: &Struct{Name: "serial_virt_tx_config_t", Fields: []Field{
	{"magic", chars(5)}, {"driver", serialConn}, {"clients", Array{serialTxClient, maxSerialClients}},
	{"num_clients", u8}, {"begin_str", chars(serialBeginMax)}, {"begin_str_len", u8}, {"enable_colour", boolT}, {"enable_rx", boolT}}}}

// The network class's configs as sDDF 0.6.0 declares them
// (include/sddf/network/config.h, lib_sddf_lwip.h). sDDF 0.7 changed them
// (several transmit regions, several MACs per client); plinth has the 0.6.0
// layouts only.
var (
	netConn       = &Struct{Name: "net_connection_resource_t", Fields: []Field{{"free_queue", regionResource}, {"active_queue", regionResource}, {"num_buffers", u16}, {"id", u8}}}
	netTxClient   = &Struct{Name: "net_virt_tx_client_config_t", Fields: []Field{{"conn", netConn}, {"data", deviceRegion}}}
	netRxClient   = &Struct{Name: "net_virt_rx_config_client_t", Fields: []Field{{"conn", netConn}, {"mac_addr", Array{u8, 6}}}}
	netMaxClients = uint64(64)

	// NetDriver06 is the network driver's connections to the virtualisers.
	NetDriver06 = Config{Section: ".net_driver_config", Class: 0x5, Header: "sddf/network/config.h", Struct: &Struct{Name: "net_driver_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt_rx", netConn}, {"virt_tx", netConn}}}}
	// NetVirtTX06 is the transmit virtualiser's connections and each
	// client's DMA region.
	NetVirtTX06 = Config{Section: ".net_virt_tx_config", Class: 0x5, Header: "sddf/network/config.h", Struct: &Struct{Name: "net_virt_tx_config_t", Fields: []Field{
		{"magic", chars(5)}, {"driver", netConn}, {"clients", Array{netTxClient, netMaxClients}}, {"num_clients", u8}}}}
	// NetVirtRX06 is the receive virtualiser's connections, the device's
	// DMA region, its metadata and each client's MAC address.
	NetVirtRX06 = Config{Section: ".net_virt_rx_config", Class: 0x5, Header: "sddf/network/config.h", Struct: &Struct{Name: "net_virt_rx_config_t", Fields: []Field{
		{"magic", chars(5)}, {"driver", netConn}, {"data", deviceRegion}, {"buffer_metadata", regionResource}, {"clients", Array{netRxClient, netMaxClients}}, {"num_clients", u8}}}}
	// NetCopy06 is a copier's connections and the regions it copies between.
	NetCopy06 = Config{Section: ".net_copy_config", Class: 0x5, Header: "sddf/network/config.h", Struct: &Struct{Name: "net_copy_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt_rx", netConn}, {"device_data", regionResource}, {"client", netConn}, {"client_data", regionResource}}}}
	// NetClient06 is a client's connections, data regions and MAC address.
	NetClient06 = Config{Section: ".net_client_config", Class: 0x5, Header: "sddf/network/config.h", Struct: &Struct{Name: "net_client_config_t", Fields: []Field{
		{"magic", chars(5)}, {"rx", netConn}, {"rx_data", regionResource}, {"tx", netConn}, {"tx_data", regionResource}, {"mac_addr", Array{u8, 6}}}}}
	// LwipConfig06 is sDDF's lwIP glue's pbuf pool.
	LwipConfig06 = Config{Section: ".lib_sddf_lwip_config", Class: 0x8, Header: "sddf/network/lib_sddf_lwip.h", Struct: &Struct{Name: "lib_sddf_lwip_config_t", Fields: []Field{
		{"magic", chars(5)}, {"pbuf_pool", regionResource}, {"num_pbufs", u64}}}}
)

// The I²C class's configs as sDDF 0.6.0 declares them
// (include/sddf/i2c/config.h); 0.7 changed the client's data description.
var (
	i2cConn = &Struct{Name: "i2c_connection_resource_t", Fields: []Field{{"data", regionResource}, {"req_queue", regionResource}, {"resp_queue", regionResource}, {"num_buffers", u16}, {"id", u8}}}

	// I2CDriver06 is the I²C driver's connection to the virtualiser.
	I2CDriver06 = Config{Section: ".i2c_driver_config", Class: 0x4, Header: "sddf/i2c/config.h", Struct: &Struct{Name: "i2c_driver_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt", i2cConn}}}}
	// I2CVirt06 is the I²C virtualiser's driver and client connections and
	// where each client's data sits in the driver's view.
	I2CVirt06 = Config{Section: ".i2c_virt_config", Class: 0x4, Header: "sddf/i2c/config.h", Struct: &Struct{Name: "i2c_virt_config_t", Fields: []Field{
		{"magic", chars(5)}, {"num_clients", u64},
		{"driver", &Struct{Name: "i2c_virt_driver_config_t", Fields: []Field{{"conn", i2cConn}}}},
		{"clients", Array{&Struct{Name: "i2c_virt_client_config_t", Fields: []Field{{"conn", i2cConn}, {"driver_data_offset", u64}}}, 64}}}}}
	// I2CClient06 is an I²C client's connection.
	I2CClient06 = Config{Section: ".i2c_client_config", Class: 0x4, Header: "sddf/i2c/config.h", Struct: &Struct{Name: "i2c_client_config_t", Fields: []Field{
		{"magic", chars(5)}, {"virt", i2cConn}}}}
)

// Configs lists every config plinth writes, in sDDF 0.7's layout.
var Configs = []Config{DeviceResources, SerialDriver, SerialVirtRX, SerialVirtTX, SerialClient, TimerClient, BlkDriver, BlkVirt, BlkClient}

// configsByRelease are the layouts of each sDDF release plinth supports.
var configsByRelease = map[string][]Config{
	"0.6.0": {DeviceResources, SerialDriver, SerialVirtRX, SerialVirtTX06, SerialClient, TimerClient, BlkDriver, BlkVirt, BlkClient,
		NetDriver06, NetVirtTX06, NetVirtRX06, NetCopy06, NetClient06, LwipConfig06, I2CDriver06, I2CVirt06, I2CClient06},
	"0.7.0": Configs,
}

// ConfigsFor is the configs in the layout of an sDDF release.
func ConfigsFor(release string) ([]Config, error) {
	c, ok := configsByRelease[release]
	if !ok {
		return nil, fmt.Errorf("plinth knows the config layouts of sDDF %s, not %s", strings.Join(slices.Sorted(maps.Keys(configsByRelease)), " and "), release)
	}
	return c, nil
}

// Config is one kind of sDDF config: its struct, the class byte after its
// "sDDF" magic, the ELF section it lives in and the header declaring it.
type Config struct {
	Struct  *Struct
	Class   byte
	Section string
	Header  string
}

// Encode is the config's bytes: the magic, then v's members.
func (c Config) Encode(v Value) ([]byte, error) {
	if _, ok := v["magic"]; ok {
		return nil, fmt.Errorf("%s.magic: plinth writes the magic itself", c.Struct.Name)
	}
	b, err := c.Struct.Encode(v)
	if err != nil {
		return nil, err
	}
	copy(b, []byte{'s', 'D', 'D', 'F', c.Class})
	return b, nil
}
