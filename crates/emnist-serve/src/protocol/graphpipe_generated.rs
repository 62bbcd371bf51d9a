pub use root::*;

const _: () = ::planus::check_version_compatibility("planus-1.3.0");

/// The root namespace
///
/// Generated from these locations:
/// * File `src/protocol/graphpipe.fbs`
#[no_implicit_prelude]
#[allow(clippy::needless_lifetimes)]
mod root {
    /// The namespace `graphpipe`
    ///
    /// Generated from these locations:
    /// * File `src/protocol/graphpipe.fbs`
    pub mod graphpipe {
        /// The enum `Type` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Enum `Type` in the file `src/protocol/graphpipe.fbs:9`
        #[derive(
            Copy,
            Clone,
            Debug,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        #[repr(u8)]
        pub enum Type {
            /// The variant `Null` in the enum `Type`
            Null = 0,

            /// The variant `Uint8` in the enum `Type`
            Uint8 = 1,

            /// The variant `Int8` in the enum `Type`
            Int8 = 2,

            /// The variant `Uint16` in the enum `Type`
            Uint16 = 3,

            /// The variant `Int16` in the enum `Type`
            Int16 = 4,

            /// The variant `Uint32` in the enum `Type`
            Uint32 = 5,

            /// The variant `Int32` in the enum `Type`
            Int32 = 6,

            /// The variant `Uint64` in the enum `Type`
            Uint64 = 7,

            /// The variant `Int64` in the enum `Type`
            Int64 = 8,

            /// The variant `Float16` in the enum `Type`
            Float16 = 9,

            /// The variant `Float32` in the enum `Type`
            Float32 = 10,

            /// The variant `Float64` in the enum `Type`
            Float64 = 11,

            /// The variant `String` in the enum `Type`
            String = 12,
        }

        impl Type {
            /// Array containing all valid variants of Type
            pub const ENUM_VALUES: [Self; 13] = [
                Self::Null,
                Self::Uint8,
                Self::Int8,
                Self::Uint16,
                Self::Int16,
                Self::Uint32,
                Self::Int32,
                Self::Uint64,
                Self::Int64,
                Self::Float16,
                Self::Float32,
                Self::Float64,
                Self::String,
            ];
        }

        impl ::core::convert::TryFrom<u8> for Type {
            type Error = ::planus::errors::UnknownEnumTagKind;
            #[inline]
            fn try_from(
                value: u8,
            ) -> ::core::result::Result<Self, ::planus::errors::UnknownEnumTagKind> {
                #[allow(clippy::match_single_binding)]
                match value {
                    0 => ::core::result::Result::Ok(Type::Null),
                    1 => ::core::result::Result::Ok(Type::Uint8),
                    2 => ::core::result::Result::Ok(Type::Int8),
                    3 => ::core::result::Result::Ok(Type::Uint16),
                    4 => ::core::result::Result::Ok(Type::Int16),
                    5 => ::core::result::Result::Ok(Type::Uint32),
                    6 => ::core::result::Result::Ok(Type::Int32),
                    7 => ::core::result::Result::Ok(Type::Uint64),
                    8 => ::core::result::Result::Ok(Type::Int64),
                    9 => ::core::result::Result::Ok(Type::Float16),
                    10 => ::core::result::Result::Ok(Type::Float32),
                    11 => ::core::result::Result::Ok(Type::Float64),
                    12 => ::core::result::Result::Ok(Type::String),

                    _ => ::core::result::Result::Err(::planus::errors::UnknownEnumTagKind {
                        tag: value as i128,
                    }),
                }
            }
        }

        impl ::core::convert::From<Type> for u8 {
            #[inline]
            fn from(value: Type) -> Self {
                value as u8
            }
        }

        /// # Safety
        /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
        unsafe impl ::planus::Primitive for Type {
            const ALIGNMENT: usize = 1;
            const SIZE: usize = 1;
        }

        impl ::planus::WriteAsPrimitive<Type> for Type {
            #[inline]
            fn write<const N: usize>(&self, cursor: ::planus::Cursor<'_, N>, buffer_position: u32) {
                (*self as u8).write(cursor, buffer_position);
            }
        }

        impl ::planus::WriteAs<Type> for Type {
            type Prepared = Self;

            #[inline]
            fn prepare(&self, _builder: &mut ::planus::Builder) -> Type {
                *self
            }
        }

        impl ::planus::WriteAsDefault<Type, Type> for Type {
            type Prepared = Self;

            #[inline]
            fn prepare(
                &self,
                _builder: &mut ::planus::Builder,
                default: &Type,
            ) -> ::core::option::Option<Type> {
                if self == default {
                    ::core::option::Option::None
                } else {
                    ::core::option::Option::Some(*self)
                }
            }
        }

        impl ::planus::WriteAsOptional<Type> for Type {
            type Prepared = Self;

            #[inline]
            fn prepare(&self, _builder: &mut ::planus::Builder) -> ::core::option::Option<Type> {
                ::core::option::Option::Some(*self)
            }
        }

        impl<'buf> ::planus::TableRead<'buf> for Type {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'buf>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                let n: u8 = ::planus::TableRead::from_buffer(buffer, offset)?;
                ::core::result::Result::Ok(::core::convert::TryInto::try_into(n)?)
            }
        }

        impl<'buf> ::planus::VectorReadInner<'buf> for Type {
            type Error = ::planus::errors::UnknownEnumTag;
            const STRIDE: usize = 1;
            #[inline]
            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'buf>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::UnknownEnumTag> {
                let value = unsafe { *buffer.buffer.get_unchecked(offset) };
                let value: ::core::result::Result<Self, _> =
                    ::core::convert::TryInto::try_into(value);
                value.map_err(|error_kind| {
                    error_kind.with_error_location(
                        "Type",
                        "VectorRead::from_buffer",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<Type> for Type {
            const STRIDE: usize = 1;

            type Value = Self;

            #[inline]
            fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                *self
            }

            #[inline]
            unsafe fn write_values(
                values: &[Self],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 1];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - i as u32,
                    );
                }
            }
        }

        /// The table `Tensor` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `Tensor` in the file `src/protocol/graphpipe.fbs:25`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct Tensor {
            /// The field `type` in the table `Tensor`
            pub type_: self::Type,
            /// The field `shape` in the table `Tensor`
            pub shape: ::core::option::Option<::planus::alloc::vec::Vec<i64>>,
            /// The field `data` in the table `Tensor`
            pub data: ::core::option::Option<::planus::alloc::vec::Vec<u8>>,
            /// The field `string_val` in the table `Tensor`
            pub string_val:
                ::core::option::Option<::planus::alloc::vec::Vec<::planus::alloc::string::String>>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for Tensor {
            fn default() -> Self {
                Self {
                    type_: self::Type::Null,
                    shape: ::core::default::Default::default(),
                    data: ::core::default::Default::default(),
                    string_val: ::core::default::Default::default(),
                }
            }
        }

        impl Tensor {
            /// Creates a [TensorBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> TensorBuilder<()> {
                TensorBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_type_: impl ::planus::WriteAsDefault<self::Type, self::Type>,
                field_shape: impl ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                field_data: impl ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                field_string_val: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<str>]>,
                >,
            ) -> ::planus::Offset<Self> {
                let prepared_type_ = field_type_.prepare(builder, &self::Type::Null);
                let prepared_shape = field_shape.prepare(builder);
                let prepared_data = field_data.prepare(builder);
                let prepared_string_val = field_string_val.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<12> =
                    ::core::default::Default::default();
                if prepared_shape.is_some() {
                    table_writer.write_entry::<::planus::Offset<[i64]>>(1);
                }
                if prepared_data.is_some() {
                    table_writer.write_entry::<::planus::Offset<[u8]>>(2);
                }
                if prepared_string_val.is_some() {
                    table_writer.write_entry::<::planus::Offset<[::planus::Offset<str>]>>(3);
                }
                if prepared_type_.is_some() {
                    table_writer.write_entry::<self::Type>(0);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_shape) = prepared_shape {
                            object_writer.write::<_, _, 4>(&prepared_shape);
                        }
                        if let ::core::option::Option::Some(prepared_data) = prepared_data {
                            object_writer.write::<_, _, 4>(&prepared_data);
                        }
                        if let ::core::option::Option::Some(prepared_string_val) =
                            prepared_string_val
                        {
                            object_writer.write::<_, _, 4>(&prepared_string_val);
                        }
                        if let ::core::option::Option::Some(prepared_type_) = prepared_type_ {
                            object_writer.write::<_, _, 1>(&prepared_type_);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<Tensor>> for Tensor {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Tensor> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<Tensor>> for Tensor {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Tensor>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<Tensor> for Tensor {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Tensor> {
                Tensor::create(
                    builder,
                    self.type_,
                    &self.shape,
                    &self.data,
                    &self.string_val,
                )
            }
        }

        /// Builder for serializing an instance of the [Tensor] type.
        ///
        /// Can be created using the [Tensor::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct TensorBuilder<State>(State);

        impl TensorBuilder<()> {
            /// Setter for the [`type` field](Tensor#structfield.type_).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn type_<T0>(self, value: T0) -> TensorBuilder<(T0,)>
            where
                T0: ::planus::WriteAsDefault<self::Type, self::Type>,
            {
                TensorBuilder((value,))
            }

            /// Sets the [`type` field](Tensor#structfield.type_) to the default value.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn type_as_default(self) -> TensorBuilder<(::planus::DefaultValue,)> {
                self.type_(::planus::DefaultValue)
            }
        }

        impl<T0> TensorBuilder<(T0,)> {
            /// Setter for the [`shape` field](Tensor#structfield.shape).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn shape<T1>(self, value: T1) -> TensorBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
            {
                let (v0,) = self.0;
                TensorBuilder((v0, value))
            }

            /// Sets the [`shape` field](Tensor#structfield.shape) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn shape_as_null(self) -> TensorBuilder<(T0, ())> {
                self.shape(())
            }
        }

        impl<T0, T1> TensorBuilder<(T0, T1)> {
            /// Setter for the [`data` field](Tensor#structfield.data).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn data<T2>(self, value: T2) -> TensorBuilder<(T0, T1, T2)>
            where
                T2: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
            {
                let (v0, v1) = self.0;
                TensorBuilder((v0, v1, value))
            }

            /// Sets the [`data` field](Tensor#structfield.data) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn data_as_null(self) -> TensorBuilder<(T0, T1, ())> {
                self.data(())
            }
        }

        impl<T0, T1, T2> TensorBuilder<(T0, T1, T2)> {
            /// Setter for the [`string_val` field](Tensor#structfield.string_val).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn string_val<T3>(self, value: T3) -> TensorBuilder<(T0, T1, T2, T3)>
            where
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            {
                let (v0, v1, v2) = self.0;
                TensorBuilder((v0, v1, v2, value))
            }

            /// Sets the [`string_val` field](Tensor#structfield.string_val) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn string_val_as_null(self) -> TensorBuilder<(T0, T1, T2, ())> {
                self.string_val(())
            }
        }

        impl<T0, T1, T2, T3> TensorBuilder<(T0, T1, T2, T3)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [Tensor].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<Tensor>
            where
                Self: ::planus::WriteAsOffset<Tensor>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<self::Type, self::Type>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAs<::planus::Offset<Tensor>> for TensorBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<Tensor>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Tensor> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<self::Type, self::Type>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAsOptional<::planus::Offset<Tensor>>
            for TensorBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<Tensor>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Tensor>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<self::Type, self::Type>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAsOffset<Tensor> for TensorBuilder<(T0, T1, T2, T3)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Tensor> {
                let (v0, v1, v2, v3) = &self.0;
                Tensor::create(builder, v0, v1, v2, v3)
            }
        }

        /// Reference to a deserialized [Tensor].
        #[derive(Copy, Clone)]
        pub struct TensorRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> TensorRef<'a> {
            /// Getter for the [`type` field](Tensor#structfield.type_).
            #[inline]
            pub fn type_(&self) -> ::planus::Result<self::Type> {
                ::core::result::Result::Ok(
                    self.0
                        .access(0, "Tensor", "type_")?
                        .unwrap_or(self::Type::Null),
                )
            }

            /// Getter for the [`shape` field](Tensor#structfield.shape).
            #[inline]
            pub fn shape(
                &self,
            ) -> ::planus::Result<::core::option::Option<::planus::Vector<'a, i64>>> {
                self.0.access(1, "Tensor", "shape")
            }

            /// Getter for the [`data` field](Tensor#structfield.data).
            #[inline]
            pub fn data(&self) -> ::planus::Result<::core::option::Option<&'a [u8]>> {
                self.0.access(2, "Tensor", "data")
            }

            /// Getter for the [`string_val` field](Tensor#structfield.string_val).
            #[inline]
            pub fn string_val(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<
                    ::planus::Vector<'a, ::planus::Result<&'a ::core::primitive::str>>,
                >,
            > {
                self.0.access(3, "Tensor", "string_val")
            }
        }

        impl<'a> ::core::fmt::Debug for TensorRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("TensorRef");
                f.field("type_", &self.type_());
                if let ::core::option::Option::Some(field_shape) = self.shape().transpose() {
                    f.field("shape", &field_shape);
                }
                if let ::core::option::Option::Some(field_data) = self.data().transpose() {
                    f.field("data", &field_data);
                }
                if let ::core::option::Option::Some(field_string_val) =
                    self.string_val().transpose()
                {
                    f.field("string_val", &field_string_val);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<TensorRef<'a>> for Tensor {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: TensorRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    type_: ::core::convert::TryInto::try_into(value.type_()?)?,
                    shape: if let ::core::option::Option::Some(shape) = value.shape()? {
                        ::core::option::Option::Some(shape.to_vec()?)
                    } else {
                        ::core::option::Option::None
                    },
                    data: value.data()?.map(|v| v.to_vec()),
                    string_val: if let ::core::option::Option::Some(string_val) =
                        value.string_val()?
                    {
                        ::core::option::Option::Some(string_val.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for TensorRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for TensorRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location("[TensorRef]", "get", buffer.offset_from_start)
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<Tensor>> for Tensor {
            type Value = ::planus::Offset<Tensor>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<Tensor>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for TensorRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[TensorRef]", "read_as_root", 0)
                })
            }
        }

        /// The union `Req` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Union `Req` in the file `src/protocol/graphpipe.fbs:32`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub enum Req {
            /// The variant of type `InferRequest` in the union `Req`
            InferRequest(::planus::alloc::boxed::Box<self::InferRequest>),

            /// The variant of type `MetadataRequest` in the union `Req`
            MetadataRequest(::planus::alloc::boxed::Box<self::MetadataRequest>),
        }

        impl Req {
            /// Creates a [ReqBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> ReqBuilder<::planus::Uninitialized> {
                ReqBuilder(::planus::Uninitialized)
            }

            #[inline]
            pub fn create_infer_request(
                builder: &mut ::planus::Builder,
                value: impl ::planus::WriteAsOffset<self::InferRequest>,
            ) -> ::planus::UnionOffset<Self> {
                ::planus::UnionOffset::new(1, value.prepare(builder).downcast())
            }

            #[inline]
            pub fn create_metadata_request(
                builder: &mut ::planus::Builder,
                value: impl ::planus::WriteAsOffset<self::MetadataRequest>,
            ) -> ::planus::UnionOffset<Self> {
                ::planus::UnionOffset::new(2, value.prepare(builder).downcast())
            }
        }

        impl ::planus::WriteAsUnion<Req> for Req {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::UnionOffset<Self> {
                match self {
                    Self::InferRequest(value) => Self::create_infer_request(builder, value),
                    Self::MetadataRequest(value) => Self::create_metadata_request(builder, value),
                }
            }
        }

        impl ::planus::WriteAsOptionalUnion<Req> for Req {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::UnionOffset<Self>> {
                ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
            }
        }

        /// Builder for serializing an instance of the [Req] type.
        ///
        /// Can be created using the [Req::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct ReqBuilder<T>(T);

        impl ReqBuilder<::planus::Uninitialized> {
            /// Creates an instance of the [`InferRequest` variant](Req#variant.InferRequest).
            #[inline]
            pub fn infer_request<T>(self, value: T) -> ReqBuilder<::planus::Initialized<1, T>>
            where
                T: ::planus::WriteAsOffset<self::InferRequest>,
            {
                ReqBuilder(::planus::Initialized(value))
            }

            /// Creates an instance of the [`MetadataRequest` variant](Req#variant.MetadataRequest).
            #[inline]
            pub fn metadata_request<T>(self, value: T) -> ReqBuilder<::planus::Initialized<2, T>>
            where
                T: ::planus::WriteAsOffset<self::MetadataRequest>,
            {
                ReqBuilder(::planus::Initialized(value))
            }
        }

        impl<const N: u8, T> ReqBuilder<::planus::Initialized<N, T>> {
            /// Finish writing the builder to get an [UnionOffset](::planus::UnionOffset) to a serialized [Req].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::UnionOffset<Req>
            where
                Self: ::planus::WriteAsUnion<Req>,
            {
                ::planus::WriteAsUnion::prepare(&self, builder)
            }
        }

        impl<T> ::planus::WriteAsUnion<Req> for ReqBuilder<::planus::Initialized<1, T>>
        where
            T: ::planus::WriteAsOffset<self::InferRequest>,
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::UnionOffset<Req> {
                ::planus::UnionOffset::new(1, (self.0).0.prepare(builder).downcast())
            }
        }

        impl<T> ::planus::WriteAsOptionalUnion<Req> for ReqBuilder<::planus::Initialized<1, T>>
        where
            T: ::planus::WriteAsOffset<self::InferRequest>,
        {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::UnionOffset<Req>> {
                ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
            }
        }
        impl<T> ::planus::WriteAsUnion<Req> for ReqBuilder<::planus::Initialized<2, T>>
        where
            T: ::planus::WriteAsOffset<self::MetadataRequest>,
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::UnionOffset<Req> {
                ::planus::UnionOffset::new(2, (self.0).0.prepare(builder).downcast())
            }
        }

        impl<T> ::planus::WriteAsOptionalUnion<Req> for ReqBuilder<::planus::Initialized<2, T>>
        where
            T: ::planus::WriteAsOffset<self::MetadataRequest>,
        {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::UnionOffset<Req>> {
                ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
            }
        }

        /// Reference to a deserialized [Req].
        #[derive(Copy, Clone, Debug)]
        pub enum ReqRef<'a> {
            InferRequest(self::InferRequestRef<'a>),
            MetadataRequest(self::MetadataRequestRef<'a>),
        }

        impl<'a> ::core::convert::TryFrom<ReqRef<'a>> for Req {
            type Error = ::planus::Error;

            fn try_from(value: ReqRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(match value {
                    ReqRef::InferRequest(value) => {
                        Self::InferRequest(::planus::alloc::boxed::Box::new(
                            ::core::convert::TryFrom::try_from(value)?,
                        ))
                    }

                    ReqRef::MetadataRequest(value) => {
                        Self::MetadataRequest(::planus::alloc::boxed::Box::new(
                            ::core::convert::TryFrom::try_from(value)?,
                        ))
                    }
                })
            }
        }

        impl<'a> ::planus::TableReadUnion<'a> for ReqRef<'a> {
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                tag: u8,
                field_offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                match tag {
                    1 => ::core::result::Result::Ok(Self::InferRequest(
                        ::planus::TableRead::from_buffer(buffer, field_offset)?,
                    )),
                    2 => ::core::result::Result::Ok(Self::MetadataRequest(
                        ::planus::TableRead::from_buffer(buffer, field_offset)?,
                    )),
                    _ => {
                        ::core::result::Result::Err(::planus::errors::ErrorKind::UnknownUnionTag {
                            tag,
                        })
                    }
                }
            }
        }

        impl<'a> ::planus::VectorReadUnion<'a> for ReqRef<'a> {
            const VECTOR_NAME: &'static str = "[ReqRef]";
        }

        /// The table `Request` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `Request` in the file `src/protocol/graphpipe.fbs:34`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct Request {
            /// The field `req` in the table `Request`
            pub req: ::core::option::Option<self::Req>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for Request {
            fn default() -> Self {
                Self {
                    req: ::core::default::Default::default(),
                }
            }
        }

        impl Request {
            /// Creates a [RequestBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> RequestBuilder<()> {
                RequestBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_req: impl ::planus::WriteAsOptionalUnion<self::Req>,
            ) -> ::planus::Offset<Self> {
                let prepared_req = field_req.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<8> =
                    ::core::default::Default::default();
                if prepared_req.is_some() {
                    table_writer.write_entry::<::planus::Offset<self::Req>>(1);
                }
                if prepared_req.is_some() {
                    table_writer.write_entry::<u8>(0);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_req) = prepared_req {
                            object_writer.write::<_, _, 4>(&prepared_req.offset());
                        }
                        if let ::core::option::Option::Some(prepared_req) = prepared_req {
                            object_writer.write::<_, _, 1>(&prepared_req.tag());
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<Request>> for Request {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Request> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<Request>> for Request {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Request>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<Request> for Request {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Request> {
                Request::create(builder, &self.req)
            }
        }

        /// Builder for serializing an instance of the [Request] type.
        ///
        /// Can be created using the [Request::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct RequestBuilder<State>(State);

        impl RequestBuilder<()> {
            /// Setter for the [`req` field](Request#structfield.req).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn req<T0>(self, value: T0) -> RequestBuilder<(T0,)>
            where
                T0: ::planus::WriteAsOptionalUnion<self::Req>,
            {
                RequestBuilder((value,))
            }

            /// Sets the [`req` field](Request#structfield.req) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn req_as_null(self) -> RequestBuilder<((),)> {
                self.req(())
            }
        }

        impl<T0> RequestBuilder<(T0,)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [Request].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<Request>
            where
                Self: ::planus::WriteAsOffset<Request>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<T0: ::planus::WriteAsOptionalUnion<self::Req>>
            ::planus::WriteAs<::planus::Offset<Request>> for RequestBuilder<(T0,)>
        {
            type Prepared = ::planus::Offset<Request>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Request> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<T0: ::planus::WriteAsOptionalUnion<self::Req>>
            ::planus::WriteAsOptional<::planus::Offset<Request>> for RequestBuilder<(T0,)>
        {
            type Prepared = ::planus::Offset<Request>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Request>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<T0: ::planus::WriteAsOptionalUnion<self::Req>> ::planus::WriteAsOffset<Request>
            for RequestBuilder<(T0,)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Request> {
                let (v0,) = &self.0;
                Request::create(builder, v0)
            }
        }

        /// Reference to a deserialized [Request].
        #[derive(Copy, Clone)]
        pub struct RequestRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> RequestRef<'a> {
            /// Getter for the [`req` field](Request#structfield.req).
            #[inline]
            pub fn req(&self) -> ::planus::Result<::core::option::Option<self::ReqRef<'a>>> {
                self.0.access_union(0, "Request", "req")
            }
        }

        impl<'a> ::core::fmt::Debug for RequestRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("RequestRef");
                if let ::core::option::Option::Some(field_req) = self.req().transpose() {
                    f.field("req", &field_req);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<RequestRef<'a>> for Request {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: RequestRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    req: if let ::core::option::Option::Some(req) = value.req()? {
                        ::core::option::Option::Some(::core::convert::TryInto::try_into(req)?)
                    } else {
                        ::core::option::Option::None
                    },
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for RequestRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for RequestRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location("[RequestRef]", "get", buffer.offset_from_start)
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<Request>> for Request {
            type Value = ::planus::Offset<Request>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<Request>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for RequestRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[RequestRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `InferRequest` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `InferRequest` in the file `src/protocol/graphpipe.fbs:38`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct InferRequest {
            /// The field `config` in the table `InferRequest`
            pub config: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `input_names` in the table `InferRequest`
            pub input_names:
                ::core::option::Option<::planus::alloc::vec::Vec<::planus::alloc::string::String>>,
            /// The field `input_tensors` in the table `InferRequest`
            pub input_tensors: ::core::option::Option<::planus::alloc::vec::Vec<self::Tensor>>,
            /// The field `output_names` in the table `InferRequest`
            pub output_names:
                ::core::option::Option<::planus::alloc::vec::Vec<::planus::alloc::string::String>>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for InferRequest {
            fn default() -> Self {
                Self {
                    config: ::core::default::Default::default(),
                    input_names: ::core::default::Default::default(),
                    input_tensors: ::core::default::Default::default(),
                    output_names: ::core::default::Default::default(),
                }
            }
        }

        impl InferRequest {
            /// Creates a [InferRequestBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> InferRequestBuilder<()> {
                InferRequestBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_config: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                field_input_names: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<str>]>,
                >,
                field_input_tensors: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::Tensor>]>,
                >,
                field_output_names: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<str>]>,
                >,
            ) -> ::planus::Offset<Self> {
                let prepared_config = field_config.prepare(builder);
                let prepared_input_names = field_input_names.prepare(builder);
                let prepared_input_tensors = field_input_tensors.prepare(builder);
                let prepared_output_names = field_output_names.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<12> =
                    ::core::default::Default::default();
                if prepared_config.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(0);
                }
                if prepared_input_names.is_some() {
                    table_writer.write_entry::<::planus::Offset<[::planus::Offset<str>]>>(1);
                }
                if prepared_input_tensors.is_some() {
                    table_writer
                        .write_entry::<::planus::Offset<[::planus::Offset<self::Tensor>]>>(2);
                }
                if prepared_output_names.is_some() {
                    table_writer.write_entry::<::planus::Offset<[::planus::Offset<str>]>>(3);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_config) = prepared_config {
                            object_writer.write::<_, _, 4>(&prepared_config);
                        }
                        if let ::core::option::Option::Some(prepared_input_names) =
                            prepared_input_names
                        {
                            object_writer.write::<_, _, 4>(&prepared_input_names);
                        }
                        if let ::core::option::Option::Some(prepared_input_tensors) =
                            prepared_input_tensors
                        {
                            object_writer.write::<_, _, 4>(&prepared_input_tensors);
                        }
                        if let ::core::option::Option::Some(prepared_output_names) =
                            prepared_output_names
                        {
                            object_writer.write::<_, _, 4>(&prepared_output_names);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<InferRequest>> for InferRequest {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferRequest> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<InferRequest>> for InferRequest {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<InferRequest>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<InferRequest> for InferRequest {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferRequest> {
                InferRequest::create(
                    builder,
                    &self.config,
                    &self.input_names,
                    &self.input_tensors,
                    &self.output_names,
                )
            }
        }

        /// Builder for serializing an instance of the [InferRequest] type.
        ///
        /// Can be created using the [InferRequest::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct InferRequestBuilder<State>(State);

        impl InferRequestBuilder<()> {
            /// Setter for the [`config` field](InferRequest#structfield.config).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn config<T0>(self, value: T0) -> InferRequestBuilder<(T0,)>
            where
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                InferRequestBuilder((value,))
            }

            /// Sets the [`config` field](InferRequest#structfield.config) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn config_as_null(self) -> InferRequestBuilder<((),)> {
                self.config(())
            }
        }

        impl<T0> InferRequestBuilder<(T0,)> {
            /// Setter for the [`input_names` field](InferRequest#structfield.input_names).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn input_names<T1>(self, value: T1) -> InferRequestBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            {
                let (v0,) = self.0;
                InferRequestBuilder((v0, value))
            }

            /// Sets the [`input_names` field](InferRequest#structfield.input_names) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn input_names_as_null(self) -> InferRequestBuilder<(T0, ())> {
                self.input_names(())
            }
        }

        impl<T0, T1> InferRequestBuilder<(T0, T1)> {
            /// Setter for the [`input_tensors` field](InferRequest#structfield.input_tensors).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn input_tensors<T2>(self, value: T2) -> InferRequestBuilder<(T0, T1, T2)>
            where
                T2: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
            {
                let (v0, v1) = self.0;
                InferRequestBuilder((v0, v1, value))
            }

            /// Sets the [`input_tensors` field](InferRequest#structfield.input_tensors) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn input_tensors_as_null(self) -> InferRequestBuilder<(T0, T1, ())> {
                self.input_tensors(())
            }
        }

        impl<T0, T1, T2> InferRequestBuilder<(T0, T1, T2)> {
            /// Setter for the [`output_names` field](InferRequest#structfield.output_names).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn output_names<T3>(self, value: T3) -> InferRequestBuilder<(T0, T1, T2, T3)>
            where
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            {
                let (v0, v1, v2) = self.0;
                InferRequestBuilder((v0, v1, v2, value))
            }

            /// Sets the [`output_names` field](InferRequest#structfield.output_names) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn output_names_as_null(self) -> InferRequestBuilder<(T0, T1, T2, ())> {
                self.output_names(())
            }
        }

        impl<T0, T1, T2, T3> InferRequestBuilder<(T0, T1, T2, T3)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [InferRequest].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferRequest>
            where
                Self: ::planus::WriteAsOffset<InferRequest>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAs<::planus::Offset<InferRequest>>
            for InferRequestBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<InferRequest>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferRequest> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAsOptional<::planus::Offset<InferRequest>>
            for InferRequestBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<InferRequest>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<InferRequest>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<str>]>>,
            > ::planus::WriteAsOffset<InferRequest> for InferRequestBuilder<(T0, T1, T2, T3)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferRequest> {
                let (v0, v1, v2, v3) = &self.0;
                InferRequest::create(builder, v0, v1, v2, v3)
            }
        }

        /// Reference to a deserialized [InferRequest].
        #[derive(Copy, Clone)]
        pub struct InferRequestRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> InferRequestRef<'a> {
            /// Getter for the [`config` field](InferRequest#structfield.config).
            #[inline]
            pub fn config(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(0, "InferRequest", "config")
            }

            /// Getter for the [`input_names` field](InferRequest#structfield.input_names).
            #[inline]
            pub fn input_names(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<
                    ::planus::Vector<'a, ::planus::Result<&'a ::core::primitive::str>>,
                >,
            > {
                self.0.access(1, "InferRequest", "input_names")
            }

            /// Getter for the [`input_tensors` field](InferRequest#structfield.input_tensors).
            #[inline]
            pub fn input_tensors(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<::planus::Vector<'a, ::planus::Result<self::TensorRef<'a>>>>,
            > {
                self.0.access(2, "InferRequest", "input_tensors")
            }

            /// Getter for the [`output_names` field](InferRequest#structfield.output_names).
            #[inline]
            pub fn output_names(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<
                    ::planus::Vector<'a, ::planus::Result<&'a ::core::primitive::str>>,
                >,
            > {
                self.0.access(3, "InferRequest", "output_names")
            }
        }

        impl<'a> ::core::fmt::Debug for InferRequestRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("InferRequestRef");
                if let ::core::option::Option::Some(field_config) = self.config().transpose() {
                    f.field("config", &field_config);
                }
                if let ::core::option::Option::Some(field_input_names) =
                    self.input_names().transpose()
                {
                    f.field("input_names", &field_input_names);
                }
                if let ::core::option::Option::Some(field_input_tensors) =
                    self.input_tensors().transpose()
                {
                    f.field("input_tensors", &field_input_tensors);
                }
                if let ::core::option::Option::Some(field_output_names) =
                    self.output_names().transpose()
                {
                    f.field("output_names", &field_output_names);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<InferRequestRef<'a>> for InferRequest {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: InferRequestRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    config: value.config()?.map(::core::convert::Into::into),
                    input_names: if let ::core::option::Option::Some(input_names) =
                        value.input_names()?
                    {
                        ::core::option::Option::Some(input_names.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                    input_tensors: if let ::core::option::Option::Some(input_tensors) =
                        value.input_tensors()?
                    {
                        ::core::option::Option::Some(input_tensors.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                    output_names: if let ::core::option::Option::Some(output_names) =
                        value.output_names()?
                    {
                        ::core::option::Option::Some(output_names.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for InferRequestRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for InferRequestRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location(
                        "[InferRequestRef]",
                        "get",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<InferRequest>> for InferRequest {
            type Value = ::planus::Offset<InferRequest>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<InferRequest>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for InferRequestRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[InferRequestRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `Error` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `Error` in the file `src/protocol/graphpipe.fbs:45`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct Error {
            /// The field `code` in the table `Error`
            pub code: i64,
            /// The field `message` in the table `Error`
            pub message: ::core::option::Option<::planus::alloc::string::String>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for Error {
            fn default() -> Self {
                Self {
                    code: 0,
                    message: ::core::default::Default::default(),
                }
            }
        }

        impl Error {
            /// Creates a [ErrorBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> ErrorBuilder<()> {
                ErrorBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_code: impl ::planus::WriteAsDefault<i64, i64>,
                field_message: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            ) -> ::planus::Offset<Self> {
                let prepared_code = field_code.prepare(builder, &0);
                let prepared_message = field_message.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<8> =
                    ::core::default::Default::default();
                if prepared_code.is_some() {
                    table_writer.write_entry::<i64>(0);
                }
                if prepared_message.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(1);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_code) = prepared_code {
                            object_writer.write::<_, _, 8>(&prepared_code);
                        }
                        if let ::core::option::Option::Some(prepared_message) = prepared_message {
                            object_writer.write::<_, _, 4>(&prepared_message);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<Error>> for Error {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Error> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<Error>> for Error {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Error>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<Error> for Error {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Error> {
                Error::create(builder, self.code, &self.message)
            }
        }

        /// Builder for serializing an instance of the [Error] type.
        ///
        /// Can be created using the [Error::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct ErrorBuilder<State>(State);

        impl ErrorBuilder<()> {
            /// Setter for the [`code` field](Error#structfield.code).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn code<T0>(self, value: T0) -> ErrorBuilder<(T0,)>
            where
                T0: ::planus::WriteAsDefault<i64, i64>,
            {
                ErrorBuilder((value,))
            }

            /// Sets the [`code` field](Error#structfield.code) to the default value.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn code_as_default(self) -> ErrorBuilder<(::planus::DefaultValue,)> {
                self.code(::planus::DefaultValue)
            }
        }

        impl<T0> ErrorBuilder<(T0,)> {
            /// Setter for the [`message` field](Error#structfield.message).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn message<T1>(self, value: T1) -> ErrorBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                let (v0,) = self.0;
                ErrorBuilder((v0, value))
            }

            /// Sets the [`message` field](Error#structfield.message) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn message_as_null(self) -> ErrorBuilder<(T0, ())> {
                self.message(())
            }
        }

        impl<T0, T1> ErrorBuilder<(T0, T1)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [Error].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<Error>
            where
                Self: ::planus::WriteAsOffset<Error>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<i64, i64>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            > ::planus::WriteAs<::planus::Offset<Error>> for ErrorBuilder<(T0, T1)>
        {
            type Prepared = ::planus::Offset<Error>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Error> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<i64, i64>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            > ::planus::WriteAsOptional<::planus::Offset<Error>> for ErrorBuilder<(T0, T1)>
        {
            type Prepared = ::planus::Offset<Error>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<Error>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsDefault<i64, i64>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            > ::planus::WriteAsOffset<Error> for ErrorBuilder<(T0, T1)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Error> {
                let (v0, v1) = &self.0;
                Error::create(builder, v0, v1)
            }
        }

        /// Reference to a deserialized [Error].
        #[derive(Copy, Clone)]
        pub struct ErrorRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> ErrorRef<'a> {
            /// Getter for the [`code` field](Error#structfield.code).
            #[inline]
            pub fn code(&self) -> ::planus::Result<i64> {
                ::core::result::Result::Ok(self.0.access(0, "Error", "code")?.unwrap_or(0))
            }

            /// Getter for the [`message` field](Error#structfield.message).
            #[inline]
            pub fn message(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(1, "Error", "message")
            }
        }

        impl<'a> ::core::fmt::Debug for ErrorRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("ErrorRef");
                f.field("code", &self.code());
                if let ::core::option::Option::Some(field_message) = self.message().transpose() {
                    f.field("message", &field_message);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<ErrorRef<'a>> for Error {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: ErrorRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    code: ::core::convert::TryInto::try_into(value.code()?)?,
                    message: value.message()?.map(::core::convert::Into::into),
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for ErrorRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for ErrorRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location("[ErrorRef]", "get", buffer.offset_from_start)
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<Error>> for Error {
            type Value = ::planus::Offset<Error>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<Error>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for ErrorRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[ErrorRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `InferResponse` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `InferResponse` in the file `src/protocol/graphpipe.fbs:50`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct InferResponse {
            /// The field `output_tensors` in the table `InferResponse`
            pub output_tensors: ::core::option::Option<::planus::alloc::vec::Vec<self::Tensor>>,
            /// The field `errors` in the table `InferResponse`
            pub errors: ::core::option::Option<::planus::alloc::vec::Vec<self::Error>>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for InferResponse {
            fn default() -> Self {
                Self {
                    output_tensors: ::core::default::Default::default(),
                    errors: ::core::default::Default::default(),
                }
            }
        }

        impl InferResponse {
            /// Creates a [InferResponseBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> InferResponseBuilder<()> {
                InferResponseBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_output_tensors: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::Tensor>]>,
                >,
                field_errors: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::Error>]>,
                >,
            ) -> ::planus::Offset<Self> {
                let prepared_output_tensors = field_output_tensors.prepare(builder);
                let prepared_errors = field_errors.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<8> =
                    ::core::default::Default::default();
                if prepared_output_tensors.is_some() {
                    table_writer
                        .write_entry::<::planus::Offset<[::planus::Offset<self::Tensor>]>>(0);
                }
                if prepared_errors.is_some() {
                    table_writer
                        .write_entry::<::planus::Offset<[::planus::Offset<self::Error>]>>(1);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_output_tensors) =
                            prepared_output_tensors
                        {
                            object_writer.write::<_, _, 4>(&prepared_output_tensors);
                        }
                        if let ::core::option::Option::Some(prepared_errors) = prepared_errors {
                            object_writer.write::<_, _, 4>(&prepared_errors);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<InferResponse>> for InferResponse {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferResponse> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<InferResponse>> for InferResponse {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<InferResponse>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<InferResponse> for InferResponse {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferResponse> {
                InferResponse::create(builder, &self.output_tensors, &self.errors)
            }
        }

        /// Builder for serializing an instance of the [InferResponse] type.
        ///
        /// Can be created using the [InferResponse::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct InferResponseBuilder<State>(State);

        impl InferResponseBuilder<()> {
            /// Setter for the [`output_tensors` field](InferResponse#structfield.output_tensors).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn output_tensors<T0>(self, value: T0) -> InferResponseBuilder<(T0,)>
            where
                T0: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
            {
                InferResponseBuilder((value,))
            }

            /// Sets the [`output_tensors` field](InferResponse#structfield.output_tensors) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn output_tensors_as_null(self) -> InferResponseBuilder<((),)> {
                self.output_tensors(())
            }
        }

        impl<T0> InferResponseBuilder<(T0,)> {
            /// Setter for the [`errors` field](InferResponse#structfield.errors).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn errors<T1>(self, value: T1) -> InferResponseBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Error>]>>,
            {
                let (v0,) = self.0;
                InferResponseBuilder((v0, value))
            }

            /// Sets the [`errors` field](InferResponse#structfield.errors) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn errors_as_null(self) -> InferResponseBuilder<(T0, ())> {
                self.errors(())
            }
        }

        impl<T0, T1> InferResponseBuilder<(T0, T1)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [InferResponse].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferResponse>
            where
                Self: ::planus::WriteAsOffset<InferResponse>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Error>]>>,
            > ::planus::WriteAs<::planus::Offset<InferResponse>>
            for InferResponseBuilder<(T0, T1)>
        {
            type Prepared = ::planus::Offset<InferResponse>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferResponse> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Error>]>>,
            > ::planus::WriteAsOptional<::planus::Offset<InferResponse>>
            for InferResponseBuilder<(T0, T1)>
        {
            type Prepared = ::planus::Offset<InferResponse>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<InferResponse>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Tensor>]>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::Error>]>>,
            > ::planus::WriteAsOffset<InferResponse> for InferResponseBuilder<(T0, T1)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<InferResponse> {
                let (v0, v1) = &self.0;
                InferResponse::create(builder, v0, v1)
            }
        }

        /// Reference to a deserialized [InferResponse].
        #[derive(Copy, Clone)]
        pub struct InferResponseRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> InferResponseRef<'a> {
            /// Getter for the [`output_tensors` field](InferResponse#structfield.output_tensors).
            #[inline]
            pub fn output_tensors(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<::planus::Vector<'a, ::planus::Result<self::TensorRef<'a>>>>,
            > {
                self.0.access(0, "InferResponse", "output_tensors")
            }

            /// Getter for the [`errors` field](InferResponse#structfield.errors).
            #[inline]
            pub fn errors(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<::planus::Vector<'a, ::planus::Result<self::ErrorRef<'a>>>>,
            > {
                self.0.access(1, "InferResponse", "errors")
            }
        }

        impl<'a> ::core::fmt::Debug for InferResponseRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("InferResponseRef");
                if let ::core::option::Option::Some(field_output_tensors) =
                    self.output_tensors().transpose()
                {
                    f.field("output_tensors", &field_output_tensors);
                }
                if let ::core::option::Option::Some(field_errors) = self.errors().transpose() {
                    f.field("errors", &field_errors);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<InferResponseRef<'a>> for InferResponse {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: InferResponseRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    output_tensors: if let ::core::option::Option::Some(output_tensors) =
                        value.output_tensors()?
                    {
                        ::core::option::Option::Some(output_tensors.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                    errors: if let ::core::option::Option::Some(errors) = value.errors()? {
                        ::core::option::Option::Some(errors.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for InferResponseRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for InferResponseRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location(
                        "[InferResponseRef]",
                        "get",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<InferResponse>> for InferResponse {
            type Value = ::planus::Offset<InferResponse>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<InferResponse>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for InferResponseRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[InferResponseRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `MetadataRequest` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `MetadataRequest` in the file `src/protocol/graphpipe.fbs:55`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct MetadataRequest {}

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for MetadataRequest {
            fn default() -> Self {
                Self {}
            }
        }

        impl MetadataRequest {
            /// Creates a [MetadataRequestBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> MetadataRequestBuilder<()> {
                MetadataRequestBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(builder: &mut ::planus::Builder) -> ::planus::Offset<Self> {
                let table_writer: ::planus::table_writer::TableWriter<4> =
                    ::core::default::Default::default();
                unsafe {
                    table_writer.finish(builder, |_table_writer| {});
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<MetadataRequest>> for MetadataRequest {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataRequest> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<MetadataRequest>> for MetadataRequest {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<MetadataRequest>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<MetadataRequest> for MetadataRequest {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataRequest> {
                MetadataRequest::create(builder)
            }
        }

        /// Builder for serializing an instance of the [MetadataRequest] type.
        ///
        /// Can be created using the [MetadataRequest::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct MetadataRequestBuilder<State>(State);

        impl MetadataRequestBuilder<()> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [MetadataRequest].
            #[inline]
            pub fn finish(
                self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataRequest>
            where
                Self: ::planus::WriteAsOffset<MetadataRequest>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl ::planus::WriteAs<::planus::Offset<MetadataRequest>> for MetadataRequestBuilder<()> {
            type Prepared = ::planus::Offset<MetadataRequest>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataRequest> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<MetadataRequest>> for MetadataRequestBuilder<()> {
            type Prepared = ::planus::Offset<MetadataRequest>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<MetadataRequest>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<MetadataRequest> for MetadataRequestBuilder<()> {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataRequest> {
                MetadataRequest::create(builder)
            }
        }

        /// Reference to a deserialized [MetadataRequest].
        #[derive(Copy, Clone)]
        pub struct MetadataRequestRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> MetadataRequestRef<'a> {}

        impl<'a> ::core::fmt::Debug for MetadataRequestRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("MetadataRequestRef");

                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<MetadataRequestRef<'a>> for MetadataRequest {
            type Error = ::planus::Error;

            fn try_from(_value: MetadataRequestRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {})
            }
        }

        impl<'a> ::planus::TableRead<'a> for MetadataRequestRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for MetadataRequestRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location(
                        "[MetadataRequestRef]",
                        "get",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<MetadataRequest>> for MetadataRequest {
            type Value = ::planus::Offset<MetadataRequest>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<MetadataRequest>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for MetadataRequestRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[MetadataRequestRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `IOMetadata` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `IOMetadata` in the file `src/protocol/graphpipe.fbs:57`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct IoMetadata {
            /// The field `name` in the table `IOMetadata`
            pub name: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `description` in the table `IOMetadata`
            pub description: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `shape` in the table `IOMetadata`
            pub shape: ::core::option::Option<::planus::alloc::vec::Vec<i64>>,
            /// The field `type` in the table `IOMetadata`
            pub type_: self::Type,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for IoMetadata {
            fn default() -> Self {
                Self {
                    name: ::core::default::Default::default(),
                    description: ::core::default::Default::default(),
                    shape: ::core::default::Default::default(),
                    type_: self::Type::Null,
                }
            }
        }

        impl IoMetadata {
            /// Creates a [IoMetadataBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> IoMetadataBuilder<()> {
                IoMetadataBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_name: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                field_description: impl ::planus::WriteAsOptional<
                    ::planus::Offset<::core::primitive::str>,
                >,
                field_shape: impl ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                field_type_: impl ::planus::WriteAsDefault<self::Type, self::Type>,
            ) -> ::planus::Offset<Self> {
                let prepared_name = field_name.prepare(builder);
                let prepared_description = field_description.prepare(builder);
                let prepared_shape = field_shape.prepare(builder);
                let prepared_type_ = field_type_.prepare(builder, &self::Type::Null);

                let mut table_writer: ::planus::table_writer::TableWriter<12> =
                    ::core::default::Default::default();
                if prepared_name.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(0);
                }
                if prepared_description.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(1);
                }
                if prepared_shape.is_some() {
                    table_writer.write_entry::<::planus::Offset<[i64]>>(2);
                }
                if prepared_type_.is_some() {
                    table_writer.write_entry::<self::Type>(3);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_name) = prepared_name {
                            object_writer.write::<_, _, 4>(&prepared_name);
                        }
                        if let ::core::option::Option::Some(prepared_description) =
                            prepared_description
                        {
                            object_writer.write::<_, _, 4>(&prepared_description);
                        }
                        if let ::core::option::Option::Some(prepared_shape) = prepared_shape {
                            object_writer.write::<_, _, 4>(&prepared_shape);
                        }
                        if let ::core::option::Option::Some(prepared_type_) = prepared_type_ {
                            object_writer.write::<_, _, 1>(&prepared_type_);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<IoMetadata>> for IoMetadata {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<IoMetadata> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<IoMetadata>> for IoMetadata {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<IoMetadata>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<IoMetadata> for IoMetadata {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<IoMetadata> {
                IoMetadata::create(
                    builder,
                    &self.name,
                    &self.description,
                    &self.shape,
                    self.type_,
                )
            }
        }

        /// Builder for serializing an instance of the [IoMetadata] type.
        ///
        /// Can be created using the [IoMetadata::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct IoMetadataBuilder<State>(State);

        impl IoMetadataBuilder<()> {
            /// Setter for the [`name` field](IoMetadata#structfield.name).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn name<T0>(self, value: T0) -> IoMetadataBuilder<(T0,)>
            where
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                IoMetadataBuilder((value,))
            }

            /// Sets the [`name` field](IoMetadata#structfield.name) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn name_as_null(self) -> IoMetadataBuilder<((),)> {
                self.name(())
            }
        }

        impl<T0> IoMetadataBuilder<(T0,)> {
            /// Setter for the [`description` field](IoMetadata#structfield.description).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn description<T1>(self, value: T1) -> IoMetadataBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                let (v0,) = self.0;
                IoMetadataBuilder((v0, value))
            }

            /// Sets the [`description` field](IoMetadata#structfield.description) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn description_as_null(self) -> IoMetadataBuilder<(T0, ())> {
                self.description(())
            }
        }

        impl<T0, T1> IoMetadataBuilder<(T0, T1)> {
            /// Setter for the [`shape` field](IoMetadata#structfield.shape).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn shape<T2>(self, value: T2) -> IoMetadataBuilder<(T0, T1, T2)>
            where
                T2: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
            {
                let (v0, v1) = self.0;
                IoMetadataBuilder((v0, v1, value))
            }

            /// Sets the [`shape` field](IoMetadata#structfield.shape) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn shape_as_null(self) -> IoMetadataBuilder<(T0, T1, ())> {
                self.shape(())
            }
        }

        impl<T0, T1, T2> IoMetadataBuilder<(T0, T1, T2)> {
            /// Setter for the [`type` field](IoMetadata#structfield.type_).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn type_<T3>(self, value: T3) -> IoMetadataBuilder<(T0, T1, T2, T3)>
            where
                T3: ::planus::WriteAsDefault<self::Type, self::Type>,
            {
                let (v0, v1, v2) = self.0;
                IoMetadataBuilder((v0, v1, v2, value))
            }

            /// Sets the [`type` field](IoMetadata#structfield.type_) to the default value.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn type_as_default(
                self,
            ) -> IoMetadataBuilder<(T0, T1, T2, ::planus::DefaultValue)> {
                self.type_(::planus::DefaultValue)
            }
        }

        impl<T0, T1, T2, T3> IoMetadataBuilder<(T0, T1, T2, T3)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [IoMetadata].
            #[inline]
            pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<IoMetadata>
            where
                Self: ::planus::WriteAsOffset<IoMetadata>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T3: ::planus::WriteAsDefault<self::Type, self::Type>,
            > ::planus::WriteAs<::planus::Offset<IoMetadata>>
            for IoMetadataBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<IoMetadata>;

            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<IoMetadata> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T3: ::planus::WriteAsDefault<self::Type, self::Type>,
            > ::planus::WriteAsOptional<::planus::Offset<IoMetadata>>
            for IoMetadataBuilder<(T0, T1, T2, T3)>
        {
            type Prepared = ::planus::Offset<IoMetadata>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<IoMetadata>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<[i64]>>,
                T3: ::planus::WriteAsDefault<self::Type, self::Type>,
            > ::planus::WriteAsOffset<IoMetadata> for IoMetadataBuilder<(T0, T1, T2, T3)>
        {
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<IoMetadata> {
                let (v0, v1, v2, v3) = &self.0;
                IoMetadata::create(builder, v0, v1, v2, v3)
            }
        }

        /// Reference to a deserialized [IoMetadata].
        #[derive(Copy, Clone)]
        pub struct IoMetadataRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> IoMetadataRef<'a> {
            /// Getter for the [`name` field](IoMetadata#structfield.name).
            #[inline]
            pub fn name(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(0, "IoMetadata", "name")
            }

            /// Getter for the [`description` field](IoMetadata#structfield.description).
            #[inline]
            pub fn description(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(1, "IoMetadata", "description")
            }

            /// Getter for the [`shape` field](IoMetadata#structfield.shape).
            #[inline]
            pub fn shape(
                &self,
            ) -> ::planus::Result<::core::option::Option<::planus::Vector<'a, i64>>> {
                self.0.access(2, "IoMetadata", "shape")
            }

            /// Getter for the [`type` field](IoMetadata#structfield.type_).
            #[inline]
            pub fn type_(&self) -> ::planus::Result<self::Type> {
                ::core::result::Result::Ok(
                    self.0
                        .access(3, "IoMetadata", "type_")?
                        .unwrap_or(self::Type::Null),
                )
            }
        }

        impl<'a> ::core::fmt::Debug for IoMetadataRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("IoMetadataRef");
                if let ::core::option::Option::Some(field_name) = self.name().transpose() {
                    f.field("name", &field_name);
                }
                if let ::core::option::Option::Some(field_description) =
                    self.description().transpose()
                {
                    f.field("description", &field_description);
                }
                if let ::core::option::Option::Some(field_shape) = self.shape().transpose() {
                    f.field("shape", &field_shape);
                }
                f.field("type_", &self.type_());
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<IoMetadataRef<'a>> for IoMetadata {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: IoMetadataRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    name: value.name()?.map(::core::convert::Into::into),
                    description: value.description()?.map(::core::convert::Into::into),
                    shape: if let ::core::option::Option::Some(shape) = value.shape()? {
                        ::core::option::Option::Some(shape.to_vec()?)
                    } else {
                        ::core::option::Option::None
                    },
                    type_: ::core::convert::TryInto::try_into(value.type_()?)?,
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for IoMetadataRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for IoMetadataRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location(
                        "[IoMetadataRef]",
                        "get",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<IoMetadata>> for IoMetadata {
            type Value = ::planus::Offset<IoMetadata>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<IoMetadata>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for IoMetadataRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[IoMetadataRef]", "read_as_root", 0)
                })
            }
        }

        /// The table `MetadataResponse` in the namespace `graphpipe`
        ///
        /// Generated from these locations:
        /// * Table `MetadataResponse` in the file `src/protocol/graphpipe.fbs:64`
        #[derive(
            Clone,
            Debug,
            PartialEq,
            PartialOrd,
            Eq,
            Ord,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
        )]
        pub struct MetadataResponse {
            /// The field `name` in the table `MetadataResponse`
            pub name: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `version` in the table `MetadataResponse`
            pub version: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `server` in the table `MetadataResponse`
            pub server: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `description` in the table `MetadataResponse`
            pub description: ::core::option::Option<::planus::alloc::string::String>,
            /// The field `inputs` in the table `MetadataResponse`
            pub inputs: ::core::option::Option<::planus::alloc::vec::Vec<self::IoMetadata>>,
            /// The field `outputs` in the table `MetadataResponse`
            pub outputs: ::core::option::Option<::planus::alloc::vec::Vec<self::IoMetadata>>,
        }

        #[allow(clippy::derivable_impls)]
        impl ::core::default::Default for MetadataResponse {
            fn default() -> Self {
                Self {
                    name: ::core::default::Default::default(),
                    version: ::core::default::Default::default(),
                    server: ::core::default::Default::default(),
                    description: ::core::default::Default::default(),
                    inputs: ::core::default::Default::default(),
                    outputs: ::core::default::Default::default(),
                }
            }
        }

        impl MetadataResponse {
            /// Creates a [MetadataResponseBuilder] for serializing an instance of this table.
            #[inline]
            pub fn builder() -> MetadataResponseBuilder<()> {
                MetadataResponseBuilder(())
            }

            #[allow(clippy::too_many_arguments)]
            pub fn create(
                builder: &mut ::planus::Builder,
                field_name: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                field_version: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                field_server: impl ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                field_description: impl ::planus::WriteAsOptional<
                    ::planus::Offset<::core::primitive::str>,
                >,
                field_inputs: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::IoMetadata>]>,
                >,
                field_outputs: impl ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::IoMetadata>]>,
                >,
            ) -> ::planus::Offset<Self> {
                let prepared_name = field_name.prepare(builder);
                let prepared_version = field_version.prepare(builder);
                let prepared_server = field_server.prepare(builder);
                let prepared_description = field_description.prepare(builder);
                let prepared_inputs = field_inputs.prepare(builder);
                let prepared_outputs = field_outputs.prepare(builder);

                let mut table_writer: ::planus::table_writer::TableWriter<16> =
                    ::core::default::Default::default();
                if prepared_name.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(0);
                }
                if prepared_version.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(1);
                }
                if prepared_server.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(2);
                }
                if prepared_description.is_some() {
                    table_writer.write_entry::<::planus::Offset<str>>(3);
                }
                if prepared_inputs.is_some() {
                    table_writer
                        .write_entry::<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>(4);
                }
                if prepared_outputs.is_some() {
                    table_writer
                        .write_entry::<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>(5);
                }

                unsafe {
                    table_writer.finish(builder, |object_writer| {
                        if let ::core::option::Option::Some(prepared_name) = prepared_name {
                            object_writer.write::<_, _, 4>(&prepared_name);
                        }
                        if let ::core::option::Option::Some(prepared_version) = prepared_version {
                            object_writer.write::<_, _, 4>(&prepared_version);
                        }
                        if let ::core::option::Option::Some(prepared_server) = prepared_server {
                            object_writer.write::<_, _, 4>(&prepared_server);
                        }
                        if let ::core::option::Option::Some(prepared_description) =
                            prepared_description
                        {
                            object_writer.write::<_, _, 4>(&prepared_description);
                        }
                        if let ::core::option::Option::Some(prepared_inputs) = prepared_inputs {
                            object_writer.write::<_, _, 4>(&prepared_inputs);
                        }
                        if let ::core::option::Option::Some(prepared_outputs) = prepared_outputs {
                            object_writer.write::<_, _, 4>(&prepared_outputs);
                        }
                    });
                }
                builder.current_offset()
            }
        }

        impl ::planus::WriteAs<::planus::Offset<MetadataResponse>> for MetadataResponse {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataResponse> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl ::planus::WriteAsOptional<::planus::Offset<MetadataResponse>> for MetadataResponse {
            type Prepared = ::planus::Offset<Self>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<MetadataResponse>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl ::planus::WriteAsOffset<MetadataResponse> for MetadataResponse {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataResponse> {
                MetadataResponse::create(
                    builder,
                    &self.name,
                    &self.version,
                    &self.server,
                    &self.description,
                    &self.inputs,
                    &self.outputs,
                )
            }
        }

        /// Builder for serializing an instance of the [MetadataResponse] type.
        ///
        /// Can be created using the [MetadataResponse::builder] method.
        #[derive(Debug)]
        #[must_use]
        pub struct MetadataResponseBuilder<State>(State);

        impl MetadataResponseBuilder<()> {
            /// Setter for the [`name` field](MetadataResponse#structfield.name).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn name<T0>(self, value: T0) -> MetadataResponseBuilder<(T0,)>
            where
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                MetadataResponseBuilder((value,))
            }

            /// Sets the [`name` field](MetadataResponse#structfield.name) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn name_as_null(self) -> MetadataResponseBuilder<((),)> {
                self.name(())
            }
        }

        impl<T0> MetadataResponseBuilder<(T0,)> {
            /// Setter for the [`version` field](MetadataResponse#structfield.version).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn version<T1>(self, value: T1) -> MetadataResponseBuilder<(T0, T1)>
            where
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                let (v0,) = self.0;
                MetadataResponseBuilder((v0, value))
            }

            /// Sets the [`version` field](MetadataResponse#structfield.version) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn version_as_null(self) -> MetadataResponseBuilder<(T0, ())> {
                self.version(())
            }
        }

        impl<T0, T1> MetadataResponseBuilder<(T0, T1)> {
            /// Setter for the [`server` field](MetadataResponse#structfield.server).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn server<T2>(self, value: T2) -> MetadataResponseBuilder<(T0, T1, T2)>
            where
                T2: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                let (v0, v1) = self.0;
                MetadataResponseBuilder((v0, v1, value))
            }

            /// Sets the [`server` field](MetadataResponse#structfield.server) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn server_as_null(self) -> MetadataResponseBuilder<(T0, T1, ())> {
                self.server(())
            }
        }

        impl<T0, T1, T2> MetadataResponseBuilder<(T0, T1, T2)> {
            /// Setter for the [`description` field](MetadataResponse#structfield.description).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn description<T3>(self, value: T3) -> MetadataResponseBuilder<(T0, T1, T2, T3)>
            where
                T3: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
            {
                let (v0, v1, v2) = self.0;
                MetadataResponseBuilder((v0, v1, v2, value))
            }

            /// Sets the [`description` field](MetadataResponse#structfield.description) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn description_as_null(self) -> MetadataResponseBuilder<(T0, T1, T2, ())> {
                self.description(())
            }
        }

        impl<T0, T1, T2, T3> MetadataResponseBuilder<(T0, T1, T2, T3)> {
            /// Setter for the [`inputs` field](MetadataResponse#structfield.inputs).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn inputs<T4>(self, value: T4) -> MetadataResponseBuilder<(T0, T1, T2, T3, T4)>
            where
                T4: ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::IoMetadata>]>,
                >,
            {
                let (v0, v1, v2, v3) = self.0;
                MetadataResponseBuilder((v0, v1, v2, v3, value))
            }

            /// Sets the [`inputs` field](MetadataResponse#structfield.inputs) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn inputs_as_null(self) -> MetadataResponseBuilder<(T0, T1, T2, T3, ())> {
                self.inputs(())
            }
        }

        impl<T0, T1, T2, T3, T4> MetadataResponseBuilder<(T0, T1, T2, T3, T4)> {
            /// Setter for the [`outputs` field](MetadataResponse#structfield.outputs).
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn outputs<T5>(self, value: T5) -> MetadataResponseBuilder<(T0, T1, T2, T3, T4, T5)>
            where
                T5: ::planus::WriteAsOptional<
                    ::planus::Offset<[::planus::Offset<self::IoMetadata>]>,
                >,
            {
                let (v0, v1, v2, v3, v4) = self.0;
                MetadataResponseBuilder((v0, v1, v2, v3, v4, value))
            }

            /// Sets the [`outputs` field](MetadataResponse#structfield.outputs) to null.
            #[inline]
            #[allow(clippy::type_complexity)]
            pub fn outputs_as_null(self) -> MetadataResponseBuilder<(T0, T1, T2, T3, T4, ())> {
                self.outputs(())
            }
        }

        impl<T0, T1, T2, T3, T4, T5> MetadataResponseBuilder<(T0, T1, T2, T3, T4, T5)> {
            /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [MetadataResponse].
            #[inline]
            pub fn finish(
                self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataResponse>
            where
                Self: ::planus::WriteAsOffset<MetadataResponse>,
            {
                ::planus::WriteAsOffset::prepare(&self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T4: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
                T5: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
            > ::planus::WriteAs<::planus::Offset<MetadataResponse>>
            for MetadataResponseBuilder<(T0, T1, T2, T3, T4, T5)>
        {
            type Prepared = ::planus::Offset<MetadataResponse>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataResponse> {
                ::planus::WriteAsOffset::prepare(self, builder)
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T4: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
                T5: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
            > ::planus::WriteAsOptional<::planus::Offset<MetadataResponse>>
            for MetadataResponseBuilder<(T0, T1, T2, T3, T4, T5)>
        {
            type Prepared = ::planus::Offset<MetadataResponse>;

            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::core::option::Option<::planus::Offset<MetadataResponse>> {
                ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
            }
        }

        impl<
                T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T1: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T2: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T3: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                T4: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
                T5: ::planus::WriteAsOptional<::planus::Offset<[::planus::Offset<self::IoMetadata>]>>,
            > ::planus::WriteAsOffset<MetadataResponse>
            for MetadataResponseBuilder<(T0, T1, T2, T3, T4, T5)>
        {
            #[inline]
            fn prepare(
                &self,
                builder: &mut ::planus::Builder,
            ) -> ::planus::Offset<MetadataResponse> {
                let (v0, v1, v2, v3, v4, v5) = &self.0;
                MetadataResponse::create(builder, v0, v1, v2, v3, v4, v5)
            }
        }

        /// Reference to a deserialized [MetadataResponse].
        #[derive(Copy, Clone)]
        pub struct MetadataResponseRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

        impl<'a> MetadataResponseRef<'a> {
            /// Getter for the [`name` field](MetadataResponse#structfield.name).
            #[inline]
            pub fn name(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(0, "MetadataResponse", "name")
            }

            /// Getter for the [`version` field](MetadataResponse#structfield.version).
            #[inline]
            pub fn version(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(1, "MetadataResponse", "version")
            }

            /// Getter for the [`server` field](MetadataResponse#structfield.server).
            #[inline]
            pub fn server(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(2, "MetadataResponse", "server")
            }

            /// Getter for the [`description` field](MetadataResponse#structfield.description).
            #[inline]
            pub fn description(
                &self,
            ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>> {
                self.0.access(3, "MetadataResponse", "description")
            }

            /// Getter for the [`inputs` field](MetadataResponse#structfield.inputs).
            #[inline]
            pub fn inputs(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<
                    ::planus::Vector<'a, ::planus::Result<self::IoMetadataRef<'a>>>,
                >,
            > {
                self.0.access(4, "MetadataResponse", "inputs")
            }

            /// Getter for the [`outputs` field](MetadataResponse#structfield.outputs).
            #[inline]
            pub fn outputs(
                &self,
            ) -> ::planus::Result<
                ::core::option::Option<
                    ::planus::Vector<'a, ::planus::Result<self::IoMetadataRef<'a>>>,
                >,
            > {
                self.0.access(5, "MetadataResponse", "outputs")
            }
        }

        impl<'a> ::core::fmt::Debug for MetadataResponseRef<'a> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut f = f.debug_struct("MetadataResponseRef");
                if let ::core::option::Option::Some(field_name) = self.name().transpose() {
                    f.field("name", &field_name);
                }
                if let ::core::option::Option::Some(field_version) = self.version().transpose() {
                    f.field("version", &field_version);
                }
                if let ::core::option::Option::Some(field_server) = self.server().transpose() {
                    f.field("server", &field_server);
                }
                if let ::core::option::Option::Some(field_description) =
                    self.description().transpose()
                {
                    f.field("description", &field_description);
                }
                if let ::core::option::Option::Some(field_inputs) = self.inputs().transpose() {
                    f.field("inputs", &field_inputs);
                }
                if let ::core::option::Option::Some(field_outputs) = self.outputs().transpose() {
                    f.field("outputs", &field_outputs);
                }
                f.finish()
            }
        }

        impl<'a> ::core::convert::TryFrom<MetadataResponseRef<'a>> for MetadataResponse {
            type Error = ::planus::Error;

            #[allow(unreachable_code)]
            fn try_from(value: MetadataResponseRef<'a>) -> ::planus::Result<Self> {
                ::core::result::Result::Ok(Self {
                    name: value.name()?.map(::core::convert::Into::into),
                    version: value.version()?.map(::core::convert::Into::into),
                    server: value.server()?.map(::core::convert::Into::into),
                    description: value.description()?.map(::core::convert::Into::into),
                    inputs: if let ::core::option::Option::Some(inputs) = value.inputs()? {
                        ::core::option::Option::Some(inputs.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                    outputs: if let ::core::option::Option::Some(outputs) = value.outputs()? {
                        ::core::option::Option::Some(outputs.to_vec_result()?)
                    } else {
                        ::core::option::Option::None
                    },
                })
            }
        }

        impl<'a> ::planus::TableRead<'a> for MetadataResponseRef<'a> {
            #[inline]
            fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                    buffer, offset,
                )?))
            }
        }

        impl<'a> ::planus::VectorReadInner<'a> for MetadataResponseRef<'a> {
            type Error = ::planus::Error;
            const STRIDE: usize = 4;

            unsafe fn from_buffer(
                buffer: ::planus::SliceWithStartOffset<'a>,
                offset: usize,
            ) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                    error_kind.with_error_location(
                        "[MetadataResponseRef]",
                        "get",
                        buffer.offset_from_start,
                    )
                })
            }
        }

        /// # Safety
        /// The planus compiler generates implementations that initialize
        /// the bytes in `write_values`.
        unsafe impl ::planus::VectorWrite<::planus::Offset<MetadataResponse>> for MetadataResponse {
            type Value = ::planus::Offset<MetadataResponse>;
            const STRIDE: usize = 4;
            #[inline]
            fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                ::planus::WriteAs::prepare(self, builder)
            }

            #[inline]
            unsafe fn write_values(
                values: &[::planus::Offset<MetadataResponse>],
                bytes: *mut ::core::mem::MaybeUninit<u8>,
                buffer_position: u32,
            ) {
                let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                    ::planus::WriteAsPrimitive::write(
                        v,
                        ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                        buffer_position - (Self::STRIDE * i) as u32,
                    );
                }
            }
        }

        impl<'a> ::planus::ReadAsRoot<'a> for MetadataResponseRef<'a> {
            fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                ::planus::TableRead::from_buffer(
                    ::planus::SliceWithStartOffset {
                        buffer: slice,
                        offset_from_start: 0,
                    },
                    0,
                )
                .map_err(|error_kind| {
                    error_kind.with_error_location("[MetadataResponseRef]", "read_as_root", 0)
                })
            }
        }
    }
}
